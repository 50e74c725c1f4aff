"""Todos: the caller's tasks, with due dates, priority, tags and a manual order."""

import re

from flask_restx import fields, inputs
from sqlalchemy import bindparam, literal, select

import models
from api.plumbing.errors import error_model
from api.policies.authentication import ProtectedResource, current_user
from api.policies.conditional import check_if_match
from api.policies.loaders import load_owned
from api.policies.ordering import MOVE, last_position, move_after, move_target
from api.policies.pagination import Filter, Listing, containing, equal_to, list_parser
from api.policies.sync import GONE, LISTED, SYNC_HEADERS, add_since, synced_page
from api.rest.masks import response_fields
from api.rest.namespace import Namespace
from api.rest.resource_models import (
    NOT_BLANK,
    NameList,
    ResourceUrl,
    date_time,
    merge_patch,
    payload,
    resource_models,
    save_changes,
    save_new,
    task_fields,
    text,
)
from models import db, utcnow
from models.sync import todos_of
from models.todo import FAR_FUTURE, todo_tags

ns = Namespace("todos", description="The caller's todos")

PRIORITY = "0 none (the default), 1 low, 2 medium, 3 high"
MAX_TAGS = 20
tag_name = fields.String(min_length=1, max_length=50, pattern=NOT_BLANK, example="home")

todo_input, todo_patch, todo = resource_models(
    ns,
    "Todo",
    {
        "title": text(200, "Buy milk", required=True),
        "description": text(10000, "Semi-skimmed"),
        "done": fields.Boolean(default=False, nullable=False),
        "due_at": fields.DateTime(
            nullable=True,
            description="When it is due: RFC 3339 with any offset, answered in UTC; null for none",
            example="2026-12-24T18:00:00+01:00",
        ),
        "priority": fields.Integer(min=0, max=3, default=0, description=PRIORITY, example=2),
        "tags": fields.List(
            tag_name,
            max_items=MAX_TAGS,
            default=list,
            example=["home", "errands"],
            description=f"Up to {MAX_TAGS} tags, compared case-insensitively; they replace "
            "the todo's tags",
        ),
    },
    uri=ResourceUrl("api.todos_todo", id="id"),
    tags=NameList(fields.String, description="The todo's tags, by name"),
    **task_fields(),
)
ns.add_model(MOVE.name, MOVE)
tag_count = ns.model(
    "TagCount",
    {
        "name": fields.String(readonly=True, description="As first written", example="home"),
        "todo_count": fields.Integer(readonly=True, description="Todos with this tag"),
    },
)


def only_true(value: str) -> bool:
    if value != "true":
        raise ValueError("only true is accepted; leave it out to list every todo")
    return True


only_true.__schema__ = {"type": "string", "enum": ["true"]}


def tag_argument(value: str) -> str:
    if len(value) > 50 or not re.search(NOT_BLANK, value):
        raise ValueError("must be a tag name of 1 to 50 characters, not only blanks")
    return models.tag_key(value)


# The body's rule for a tag (`tag_name`); its length is documented on the list's `get`.
tag_argument.__schema__ = {"type": "string", "pattern": NOT_BLANK}


todo_list_args = list_parser("id", "created_at", "title", "due_at", "priority", "position")
todo_list_args.add_argument(
    "done", type=inputs.boolean, location="args", help="Only done (true) or open (false) todos."
)
todo_list_args.add_argument(
    "q", type=str, location="args", help="Case-insensitive substring of the title."
)
todo_list_args.add_argument(
    "due_before", type=date_time, location="args", help="Only todos due before this date-time."
)
todo_list_args.add_argument(
    "due_after", type=date_time, location="args", help="Only todos due after this date-time."
)
todo_list_args.add_argument(
    "overdue",
    type=only_true,
    location="args",
    help="true: only open todos whose due date has passed.",
)
todo_list_args.add_argument(
    "priority",
    type=inputs.int_range(0, 3),
    location="args",
    help=f"Only this priority: {PRIORITY}.",
)
todo_list_args.add_argument(
    "tag",
    type=tag_argument,
    action="append",
    location="args",
    help="Only todos with this tag; repeat it for todos with every one of the tags.",
)
add_since(todo_list_args)


def of_tag(column, key):
    """`column` of the caller's tag whose key is `key` (none: NULL, which no row matches)."""
    return (
        select(column)
        .where(models.Tag.user_id == bindparam("owner"), models.Tag.key == key)
        .scalar_subquery()
    )


def has_tag(key):
    """The todo has that tag: a lookup of (tag, todo) in `todo_tags`'s primary key, made
    for each todo along the sort's index until a page (or a capped count) is full.

    A scalar subquery, not EXISTS: PostgreSQL turns an EXISTS into a join that reads the
    tag's todos from the first one, so a page half-way down a tag read half of them.
    """
    tag_id = of_tag(models.Tag.id, key)
    tagged = select(literal(1)).where(
        todo_tags.c.tag_id == tag_id, todo_tags.c.todo_id == models.Todo.id
    )
    return tagged.scalar_subquery().is_not(None)


# A tag no todo has any more is kept, and not listed.
tag_listing = Listing(
    models.Tag, {"name": models.Tag.key, "id": models.Tag.id}, where=[models.Tag.todo_count > 0]
)
todo_listing = Listing(
    models.Todo,
    {
        "created_at": models.Todo.created_at,
        "title": models.Todo.title,
        "due_at": (models.Todo.due_first, models.Todo.due_last),
        "priority": models.Todo.priority,
        "position": models.Todo.position,
        "id": models.Todo.id,
    },
    filters={
        "done": equal_to(models.Todo.done),
        "q": containing(models.Todo.title),
        # A todo without a due date is due neither before nor after anything.
        "due_before": Filter(lambda moment: models.Todo.due_first < moment),
        "due_after": Filter(
            lambda moment: (models.Todo.due_first > moment) & (models.Todo.due_first < FAR_FUTURE)
        ),
        # Bound to now: an open todo is overdue once its due date has passed.
        "overdue": Filter(
            lambda now: (models.Todo.due_first < now) & (models.Todo.done == False),  # noqa: E712
            lambda wanted: utcnow(),
        ),
        "priority": equal_to(models.Todo.priority),
        # One tag alone: its count of todos, kept by the database.
        "tag": Filter(has_tag, kept_count=lambda key: of_tag(models.Tag.todo_count, key)),
    },
)


def load_todo(id: int, fields: dict | None = None, lock: bool = False) -> models.Todo:
    """The caller's todo `id` or 404; see `api.policies.loaders.load_owned`."""
    return load_owned(models.Todo, id, fields=fields, lock=lock, name="Todo")


@ns.route("/")
class TodoList(ProtectedResource):
    @ns.expect(todo_list_args)
    # A repeated argument's length rules go to its items (the parser puts them beside).
    @ns.doc(params={"tag": {"items": {"minLength": 1, "maxLength": 50}}})
    @ns.marshal_list_with(todo, headers=SYNC_HEADERS, description=LISTED)
    @ns.response(400, "Invalid query arguments or sync token", error_model)
    @ns.response(410, GONE, error_model)
    def get(self):
        """List the caller's todos, or with `since` what changed since a sync token"""
        args = todo_list_args.parse_args()
        user = current_user()
        return synced_page(
            todo_listing, todos_of(user.id), args, response_fields(todo), count=user.todo_count
        )

    @ns.expect(todo_input)
    @ns.marshal_with(todo, code=201, description="Todo created")
    @ns.response(400, "Invalid todo", error_model)
    def post(self):
        """Create a todo; it goes last in the manual order"""
        created = models.Todo(user_id=current_user().id, position=last_position(models.Todo))
        created.update(payload(todo_input, replace=True))
        return save_new(created, todo["uri"])


@ns.route("/<int:id>")
@ns.param("id", "The todo's id")
@ns.response(404, "Todo not found", error_model)
class Todo(ProtectedResource):
    @ns.marshal_with(todo)
    def get(self, id):
        """Show a todo"""
        return load_todo(id, response_fields(todo))

    @ns.expect(todo_input)
    @ns.marshal_with(todo)
    @ns.response(400, "Invalid todo", error_model)
    def put(self, id):
        """Replace a todo"""
        found = load_todo(id, lock=True)
        check_if_match(found, response_fields(todo))
        return save_changes(found, payload(todo_input, replace=True))

    @ns.expect(todo_patch)
    @ns.marshal_with(todo)
    @ns.response(400, "Invalid change", error_model)
    def patch(self, id):
        """Change some fields of a todo (JSON merge patch: null clears a field)"""
        found = load_todo(id, lock=True)
        check_if_match(found, response_fields(todo))
        return save_changes(found, merge_patch(todo_patch, todo_input))

    @ns.response(204, "Todo deleted")
    def delete(self, id):
        """Delete a todo"""
        found = load_todo(id, lock=True)
        check_if_match(found, response_fields(todo))
        db.session.delete(found)
        return None, 204


@ns.route("/<int:id>/move")
@ns.param("id", "The todo's id")
@ns.response(404, "Todo not found", error_model)
class TodoMove(ProtectedResource):
    @ns.expect(MOVE)
    @ns.marshal_with(todo)
    @ns.response(400, "Invalid move", error_model)
    def post(self, id):
        """Move a todo right after another in the manual order (after null: first)"""
        found = load_todo(id, lock=True)
        check_if_match(found, response_fields(todo))
        move_after(found, move_target(), name="Todo")
        return save_changes(found, {})


tag_list_args = list_parser("name")


@ns.route("/tags/")
class TagList(ProtectedResource):
    @ns.expect(tag_list_args)
    @ns.marshal_list_with(tag_count)
    @ns.response(400, "Invalid query arguments", error_model)
    def get(self):
        """List the caller's tags, with how many todos have each"""
        return tag_listing.page(tag_list_args.parse_args(), response_fields(tag_count))
