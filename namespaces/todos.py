"""Todos: the caller's tasks."""

from flask_restx import fields, inputs

import models
from api.plumbing.errors import error_model
from api.policies.authentication import ProtectedResource, current_user
from api.policies.conditional import check_if_match
from api.policies.loaders import load_owned
from api.policies.pagination import Listing, containing, equal_to, list_parser
from api.rest.masks import response_fields
from api.rest.namespace import Namespace
from api.rest.resource_models import (
    ResourceUrl,
    payload,
    resource_models,
    save_changes,
    save_new,
    text,
)
from models import db

ns = Namespace("todos", description="The caller's todos")

todo_input, todo_patch, todo = resource_models(
    ns,
    "Todo",
    {
        "title": text(200, "Buy milk", required=True),
        "description": text(10000, "Semi-skimmed"),
        "done": fields.Boolean(default=False),
    },
    uri=ResourceUrl("api.todos_todo", id="id"),
)

todo_list_args = list_parser("id", "created_at", "title")
todo_list_args.add_argument(
    "done", type=inputs.boolean, location="args", help="Only done (true) or open (false) todos."
)
todo_list_args.add_argument(
    "q", type=str, location="args", help="Case-insensitive substring of the title."
)
todo_listing = Listing(
    models.Todo,
    {"created_at": models.Todo.created_at, "title": models.Todo.title, "id": models.Todo.id},
    filters={"done": equal_to(models.Todo.done), "q": containing(models.Todo.title)},
)


def load_todo(id: int, fields: dict | None = None, lock: bool = False) -> models.Todo:
    """The caller's todo `id` or 404; see `api.policies.loaders.load_owned`."""
    return load_owned(models.Todo, id, fields=fields, lock=lock, name="Todo")


@ns.route("/")
class TodoList(ProtectedResource):
    @ns.expect(todo_list_args)
    @ns.marshal_list_with(todo)
    @ns.response(400, "Invalid query arguments", error_model)
    def get(self):
        """List the caller's todos"""
        args = todo_list_args.parse_args()
        return todo_listing.page(args, response_fields(todo), count=current_user().todo_count)

    @ns.expect(todo_input, validate=True)
    @ns.marshal_with(todo, code=201, description="Todo created")
    @ns.response(400, "Invalid todo", error_model)
    def post(self):
        """Create a todo"""
        created = models.Todo(user_id=current_user().id, **payload(todo_input, replace=True))
        return save_new(created, todo["uri"])


@ns.route("/<int:id>")
@ns.param("id", "The todo's id")
@ns.response(404, "Todo not found", error_model)
class Todo(ProtectedResource):
    @ns.marshal_with(todo)
    def get(self, id):
        """Show a todo"""
        return load_todo(id, response_fields(todo))

    @ns.expect(todo_input, validate=True)
    @ns.marshal_with(todo)
    @ns.response(400, "Invalid todo", error_model)
    def put(self, id):
        """Replace a todo"""
        found = load_todo(id, lock=True)
        check_if_match(found, response_fields(todo))
        return save_changes(found, payload(todo_input, replace=True))

    @ns.expect(todo_patch, validate=True)
    @ns.marshal_with(todo)
    @ns.response(400, "Invalid change", error_model)
    def patch(self, id):
        """Change some fields of a todo"""
        found = load_todo(id, lock=True)
        check_if_match(found, response_fields(todo))
        return save_changes(found, payload(todo_patch))

    @ns.response(204, "Todo deleted")
    def delete(self, id):
        """Delete a todo"""
        found = load_todo(id, lock=True)
        check_if_match(found, response_fields(todo))
        db.session.delete(found)
        return None, 204
