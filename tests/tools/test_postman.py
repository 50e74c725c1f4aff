"""The Postman export: the v2.1 format, an order that runs, and a green run in Newman."""

import json
import os
import re
import shutil
import subprocess
import sys

import jsonschema
import pytest
from flask import Blueprint, Flask
from flask_restx import Api, Namespace, Resource, fields

from api.rest.blueprint import api
from api.tools import postman
from api.tools.openapi import swagger_spec
from tests.live import ROOT, server

KEY_VALUES = {
    "type": "array",
    "items": {
        "type": "object",
        "required": ["key", "value"],
        "properties": {
            "key": {"type": "string"},
            "value": {"type": "string"},
            "disabled": {"type": "boolean"},
            "description": {"type": "string"},
        },
    },
}
AUTH = {
    "type": "object",
    "required": ["type"],
    "properties": {
        "type": {"enum": ["noauth", "apikey", "basic", "bearer"]},
        "apikey": {"$ref": "#/definitions/attributes"},
        "basic": {"$ref": "#/definitions/attributes"},
        "bearer": {"$ref": "#/definitions/attributes"},
    },
}
# The parts of the v2.1 collection schema this export uses, as Postman and Newman read them.
COLLECTION_FORMAT = {
    "type": "object",
    "required": ["info", "item"],
    "properties": {
        "info": {
            "type": "object",
            "required": ["name", "schema"],
            "properties": {"schema": {"const": postman.SCHEMA}, "name": {"type": "string"}},
        },
        "auth": {"$ref": "#/definitions/auth"},
        "variable": KEY_VALUES,
        "item": {"type": "array", "items": {"$ref": "#/definitions/folder"}},
    },
    "definitions": {
        "attributes": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["key", "value", "type"],
                "properties": {"key": {"type": "string"}, "value": {"type": "string"}},
            },
        },
        "auth": AUTH,
        "folder": {
            "type": "object",
            "required": ["name", "item"],
            "properties": {"item": {"type": "array", "items": {"$ref": "#/definitions/item"}}},
        },
        "item": {
            "type": "object",
            "required": ["name", "request", "event"],
            "properties": {
                "event": {"type": "array", "items": {"$ref": "#/definitions/event"}},
                "request": {"$ref": "#/definitions/request"},
                "response": {"type": "array"},
            },
        },
        "event": {
            "type": "object",
            "required": ["listen", "script"],
            "properties": {
                "listen": {"enum": ["test", "prerequest"]},
                "script": {
                    "type": "object",
                    "required": ["type", "exec"],
                    "properties": {
                        "type": {"const": "text/javascript"},
                        "exec": {"type": "array", "items": {"type": "string"}},
                    },
                },
            },
        },
        "request": {
            "type": "object",
            "required": ["method", "url", "header"],
            "properties": {
                "method": {"enum": ["GET", "POST", "PUT", "PATCH", "DELETE"]},
                "header": KEY_VALUES,
                "auth": {"$ref": "#/definitions/auth"},
                "body": {
                    "type": "object",
                    "required": ["mode", "raw"],
                    "properties": {"mode": {"const": "raw"}, "raw": {"type": "string"}},
                },
                "url": {
                    "type": "object",
                    "required": ["raw", "host", "path"],
                    "properties": {
                        "raw": {"type": "string", "pattern": r"^\{\{baseUrl\}\}/"},
                        "host": {"const": ["{{baseUrl}}"]},
                        "path": {"type": "array", "items": {"type": "string"}},
                        "query": KEY_VALUES,
                        "variable": KEY_VALUES,
                    },
                },
            },
        },
    },
}


@pytest.fixture
def exported(app):
    return postman.collection(api)


@pytest.fixture
def spec(app):
    return swagger_spec(api)


def requests_of(collection):
    for folder in collection["item"]:
        yield from folder["item"]


def script_of(item, kind="test"):
    return "\n".join(
        line
        for event in item["event"]
        if event["listen"] == kind
        for line in event["script"]["exec"]
    )


def operation_of(item, spec):
    """`(method, spec path)` of an exported request."""
    path = "/" + "/".join(item["request"]["url"]["path"])
    path = re.sub(r":(\w+)", r"{\1}", path).removeprefix(spec["basePath"])
    return item["request"]["method"].lower(), path


def saved_variables(item):
    return re.findall(r'pm\.collectionVariables\.set\("(\w+)"', script_of(item))


def used_variables(item):
    return [
        re.fullmatch(r"\{\{(\w+)\}\}", v["value"])[1]
        for v in item["request"]["url"].get("variable", [])
    ]


def test_the_collection_has_the_v2_1_format(exported):
    jsonschema.validate(exported, COLLECTION_FORMAT)
    assert exported["info"]["schema"] == (
        "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"
    )


def test_one_folder_per_namespace_in_the_api_order(exported):
    with_resources = [ns for ns in api.namespaces if ns.resources]
    assert [folder["name"] for folder in exported["item"]] == [ns.name for ns in with_resources]
    assert exported["item"][0]["description"] == with_resources[0].description


def is_sync(item) -> bool:
    return any(q["key"] == "since" and not q.get("disabled") for q in query_of(item))


def query_of(item) -> list:
    return item["request"]["url"].get("query", [])


def test_every_operation_of_the_spec_is_exported_once(exported, spec):
    in_spec = sorted(
        (method, path)
        for path, item in spec["paths"].items()
        for method in item
        if method != "parameters"
    )
    exported_once = [item for item in requests_of(exported) if not is_sync(item)]
    assert sorted(operation_of(item, spec) for item in exported_once) == in_spec


def test_every_synced_list_is_synced_with_the_token_its_get_saved(exported, spec):
    synced = [item for item in requests_of(exported) if is_sync(item)]
    paths = sorted(operation_of(item, spec)[1] for item in synced)
    assert paths == ["/bucketlists/", "/bucketlists/{id}/items/", "/todos/"]
    every = list(requests_of(exported))
    for item in synced:
        (since,) = [q["value"] for q in query_of(item) if q["key"] == "since"]
        variable = since.strip("{}")
        listed = [
            other
            for other in every[: every.index(item)]
            if not is_sync(other) and operation_of(other, spec) == operation_of(item, spec)
        ]
        saved = f'pm.collectionVariables.set("{variable}", pm.response.headers.get('
        assert len(listed) == 1 and saved in script_of(listed[0])
        assert "return row.deleted;" in script_of(item)


def test_variables_and_collection_auth(exported):
    variables = {v["key"]: v["value"] for v in exported["variable"]}
    assert variables["baseUrl"] == "http://127.0.0.1:5000"
    assert variables["apiKey"] == ""
    attributes = {a["key"]: a["value"] for a in exported["auth"]["apikey"]}
    assert exported["auth"]["type"] == "apikey"
    assert attributes == {"key": "X-API-KEY", "value": "{{apiKey}}", "in": "header"}


def test_every_request_checks_its_documented_status(exported, spec):
    for item in requests_of(exported):
        method, path = operation_of(item, spec)
        responses = spec["paths"][path][method]["responses"]
        success = min(int(code) for code in responses if code.startswith("2"))
        assert f"pm.response.to.have.status({success});" in script_of(item), item["name"]


def test_the_x_fields_header_is_there_but_disabled(exported, spec):
    masked = 0
    for item in requests_of(exported):
        method, path = operation_of(item, spec)
        declared = [p["name"] for p in spec["paths"][path][method].get("parameters", [])]
        headers = {h["key"]: h for h in item["request"]["header"]}
        assert ("X-Fields" in headers) == ("X-Fields" in declared), item["name"]
        if "X-Fields" in headers:
            masked += 1
            assert headers["X-Fields"]["disabled"] is True
            assert re.fullmatch(r"\{\w+(,\w+)*\}", headers["X-Fields"]["value"])
    assert masked > 5


def test_ids_are_saved_before_they_are_used_and_not_used_after_a_delete(exported):
    saved, deleted = set(), set()
    for item in requests_of(exported):
        used = used_variables(item)
        for name in used:
            assert name in saved, f"{item['name']} uses {{{{{name}}}}} before it is saved"
            assert name not in deleted, f"{item['name']} uses {{{{{name}}}}} after its delete"
        if item["request"]["method"] == "DELETE" and used:  # DELETE /auth/me names no id
            deleted.add(used[-1])
        saved.update(saved_variables(item))
    assert {"todos_id", "auth_keys_id"} <= saved


def test_path_variables_have_example_values(exported):
    variables = {v["key"]: v["value"] for v in exported["variable"]}
    for item in requests_of(exported):
        for name in used_variables(item):
            assert variables[name].isdigit()


def test_creates_save_the_new_id(exported):
    todos = next(folder for folder in exported["item"] if folder["name"] == "todos")["item"]
    create = todos[0]
    assert (create["request"]["method"], create["request"]["url"]["raw"]) == (
        "POST",
        "{{baseUrl}}/api/v1/todos/",
    )
    assert 'pm.collectionVariables.set("todos_id", body.id);' in script_of(create)
    assert [item["request"]["method"] for item in todos] == [
        "POST",
        "GET",
        "GET",
        "PUT",
        "PATCH",
        "POST",
        "DELETE",
        "GET",
        "GET",  # the sync of the list, since the token of the list's GET
    ]
    assert todos[2]["request"]["url"]["variable"] == [
        {"key": "id", "value": "{{todos_id}}", "description": "The todo's id"}
    ]


def test_bodies_are_examples_of_the_expected_model(exported, spec):
    bodies = 0
    for item in requests_of(exported):
        method, path = operation_of(item, spec)
        parameters = spec["paths"][path][method].get("parameters", [])
        expected = next((p for p in parameters if p["in"] == "body"), None)
        assert ("body" in item["request"]) == (expected is not None), item["name"]
        if expected is None:
            continue
        bodies += 1
        model = spec["definitions"][expected["schema"]["$ref"].rsplit("/", 1)[1]]
        body = json.loads(item["request"]["body"]["raw"])
        assert set(model.get("required", [])) <= set(body) <= set(model["properties"])
        content_type = {"key": "Content-Type", "value": "application/json"}
        assert content_type in item["request"]["header"]
    assert bodies >= 6


def test_todo_bodies_use_the_model_examples(exported):
    todos = next(folder for folder in exported["item"] if folder["name"] == "todos")["item"]
    assert json.loads(todos[0]["request"]["body"]["raw"]) == {
        "title": "Buy milk",
        "description": "Semi-skimmed",
        "done": False,
        "due_at": "2026-12-24T18:00:00+01:00",
        "priority": 2,
        "tags": ["home", "errands"],
    }


def by_name(collection, name):
    return next(item for item in requests_of(collection) if item["name"] == name)


def test_sign_up_login_and_logout_use_their_own_credentials(exported):
    register = by_name(exported, "Create an account")
    assert register["request"]["auth"] == {"type": "noauth"}
    assert 'pm.collectionVariables.set("email"' in script_of(register, "prerequest")
    assert json.loads(register["request"]["body"]["raw"]) == {
        "email": "{{email}}",
        "password": "{{password}}",
    }
    login = by_name(exported, "Exchange an email and password for a bearer token")
    assert login["request"]["auth"]["type"] == "basic"
    assert 'pm.collectionVariables.set("accessToken", body.access_token);' in script_of(login)
    logout = by_name(exported, "Revoke the bearer token that makes this call")
    assert logout["request"]["auth"] == {
        "type": "bearer",
        "bearer": [{"key": "token", "value": "{{accessToken}}", "type": "string"}],
    }
    names = [item["name"] for item in requests_of(exported)]
    assert names.index(register["name"]) < names.index(login["name"]) < names.index(logout["name"])
    # Everything else inherits the collection's API key.
    assert "auth" not in by_name(exported, "Show the caller's account")["request"]


def test_sharing_a_list_registers_a_second_account_first(exported):
    (invite,) = [
        item
        for folder in exported["item"]
        for item in folder["item"]
        if item["request"]["method"] == "POST"
        and item["request"]["url"]["raw"].endswith("/members/")
    ]
    assert json.loads(invite["request"]["body"]["raw"]) == {
        "email": "{{memberEmail}}",
        "role": "editor",
    }
    (prerequest,) = [event for event in invite["event"] if event["listen"] == "prerequest"]
    lines = "\n".join(prerequest["script"]["exec"])
    assert 'pm.collectionVariables.set("memberEmail", member)' in lines
    assert "/api/v1/auth/register" in lines and "pm.sendRequest" in lines
    assert {"key": "memberEmail", "value": "", "type": "string"} in exported["variable"]


@pytest.mark.parametrize("method", ["PATCH", "DELETE"])
def test_changing_or_deleting_the_account_runs_as_an_account_of_its_own(exported, method):
    (item,) = [
        item
        for folder in exported["item"]
        for item in folder["item"]
        if item["request"]["method"] == method
        and item["request"]["url"]["raw"].endswith("/auth/me")
    ]
    assert item["request"]["auth"]["type"] == "bearer"
    assert item["request"]["auth"]["bearer"][0]["value"] == "{{ownToken}}"
    body = json.loads(item["request"]["body"]["raw"])
    assert body.get("current_password", body.get("password")) == "{{password}}"
    (prerequest,) = [event for event in item["event"] if event["listen"] == "prerequest"]
    lines = "\n".join(prerequest["script"]["exec"])
    assert "/api/v1/auth/register" in lines and "/api/v1/auth/login" in lines
    assert 'pm.collectionVariables.set("ownToken"' in lines


def test_each_request_says_which_key_scope_it_needs(exported, spec):
    for item in requests_of(exported):
        if is_sync(item):
            continue  # the second GET of a list: described as a sync
        method, path = operation_of(item, spec)
        scope = spec["paths"][path][method].get("x-required-scope")
        description = item["request"]["description"]
        if scope == "write":
            assert "scope `write`" in description and "403" in description, (method, path)
        elif scope == "read":
            assert "scope `read`" in description, (method, path)
        else:
            assert "scope `" not in description, (method, path)
    created = [
        item
        for item in requests_of(exported)
        if item["request"]["method"] == "POST" and item["request"]["url"]["raw"].endswith("/keys/")
    ]
    assert json.loads(created[0]["request"]["body"]["raw"])["scopes"] == ["read", "write"]


def test_base_url_is_a_variable_default(app):
    exported = postman.collection(api, "https://api.example.com/")
    variables = {v["key"]: v["value"] for v in exported["variable"]}
    assert variables["baseUrl"] == "https://api.example.com"


def test_the_environment_carries_the_variables_a_user_sets(exported):
    environment = postman.environment(exported)
    assert environment["name"] == exported["info"]["name"]
    assert environment["_postman_variable_scope"] == "environment"
    values = {v["key"]: v["value"] for v in environment["values"]}
    assert values == {"baseUrl": "http://127.0.0.1:5000", "apiKey": ""}


def nested_api() -> tuple[Flask, Api]:
    """A stand-in API with items nested under buckets, declared in an unhelpful order."""
    app = Flask(__name__)
    blueprint = Blueprint("nested", __name__, url_prefix="/v9")
    nested = Api(
        blueprint,
        title="Nested",
        version="9",
        authorizations={"apikey": {"type": "apiKey", "in": "header", "name": "X-API-KEY"}},
        security=None,
    )
    ns = Namespace("bucketlist", path="/bucketlists")
    bucket_in = ns.model("BucketIn", {"name": fields.String(required=True, min_length=1)})
    bucket = ns.inherit("Bucket", bucket_in, {"id": fields.Integer(readonly=True)})
    item_in = ns.model("ItemIn", {"name": fields.String(required=True), "done": fields.Boolean})
    item = ns.inherit("Item", item_in, {"id": fields.Integer(readonly=True)})
    secured = ns.doc(security=[{"apikey": []}])

    @ns.route("/<int:id>/items/<int:item_id>")
    class Item(Resource):
        @ns.marshal_with(item)
        def get(self, id, item_id):
            """Show an item"""

        @ns.response(204, "Deleted")
        def delete(self, id, item_id):
            """Delete an item"""

    @ns.route("/<int:id>/items/")
    class ItemList(Resource):
        @ns.expect(item_in)
        @ns.marshal_with(item, code=201)
        def post(self, id):
            """Create an item"""

    @ns.route("/<int:id>")
    class Bucket(Resource):
        @ns.expect(bucket_in)
        @ns.marshal_with(bucket)
        def put(self, id):
            """Replace a bucket"""

        @ns.response(204, "Deleted")
        def delete(self, id):
            """Delete a bucket"""

    @ns.route("/")
    class BucketList(Resource):
        @ns.expect(bucket_in)
        @ns.marshal_with(bucket, code=201)
        def post(self):
            """Create a bucket"""

        @ns.marshal_list_with(bucket)
        def get(self):
            """List buckets"""

    for resource in (Item, ItemList, Bucket, BucketList):
        secured(resource)
    nested.add_namespace(ns)
    app.register_blueprint(blueprint)
    return app, nested


def test_nested_resources_are_created_before_and_deleted_after_their_children():
    app, nested = nested_api()
    with app.app_context():
        exported = postman.collection(nested)
    jsonschema.validate(exported, COLLECTION_FORMAT)
    (folder,) = exported["item"]
    assert [item["name"] for item in folder["item"]] == [
        "Create a bucket",
        "List buckets",
        "Replace a bucket",
        "Create an item",
        "Show an item",
        "Delete an item",
        "Delete a bucket",
    ]
    create_bucket, _, _, create_item, show_item, _, _ = folder["item"]
    assert saved_variables(create_bucket) == ["bucketlists_id"]
    assert saved_variables(create_item) == ["bucketlists_items_item_id"]
    # The item's own `id` field fills the `item_id` of its path.
    assert "body.id);" in script_of(create_item)
    assert show_item["request"]["url"]["raw"] == "{{baseUrl}}/v9/bucketlists/:id/items/:item_id"
    assert used_variables(show_item) == ["bucketlists_id", "bucketlists_items_item_id"]
    assert json.loads(create_item["request"]["body"]["raw"]) == {
        "name": "Example name",
        "done": False,
    }


def test_the_export_is_deterministic(runner, tmp_path):
    import manage

    outputs = []
    for name in ("one.json", "two.json"):
        result = runner.invoke(manage.cli, args=["postman", "-o", str(tmp_path / name)])
        assert result.exit_code == 0, result.output
        outputs.append((tmp_path / name).read_bytes())
    assert outputs[0] == outputs[1]
    # No moment of the export: the date-times are the todo model's example due date, and
    # the fixed example of a date-time without one (an import's `exported_at`).
    moments = set(re.findall(rb"20\d\d-\d\d-\d\dT[0-9:+]*", outputs[0]))
    assert moments == {b"2026-12-24T18:00:00+01:00", b"2026-01-01T12:00:00+00:00"}


NEWMAN = os.environ.get("NEWMAN") or shutil.which("newman")


def manage_py(*args, env):
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )


@pytest.mark.slow
@pytest.mark.skipif(
    not NEWMAN, reason="Newman is not installed: set NEWMAN to its path (.ci/run does)"
)
def test_newman_runs_the_export_green_against_a_live_server(tmp_path):
    env = {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'newman.db'}",
        "APP_ENV": "production",
        "SECRET_KEY": "newman-secret",
    }
    seeded = manage_py("seed", "--todos", "5", "--buckets", "3", "--items", "10", env=env)
    api_key = re.search(r"API key \(shown once\): (\S+)", seeded.stdout)[1]
    collection = tmp_path / "collection.json"
    manage_py("postman", "-o", str(collection), env=env)
    report = tmp_path / "newman.json"
    with server("serve", "--workers", "2", env=env, log=tmp_path / "server.log") as url:
        run = subprocess.run(
            [
                NEWMAN,
                "run",
                str(collection),
                "--env-var",
                f"baseUrl={url}",
                "--env-var",
                f"apiKey={api_key}",
                "--reporters",
                "cli,json",
                "--reporter-json-export",
                str(report),
                "--timeout-request",
                "10000",
            ],
            capture_output=True,
            text=True,
            timeout=180,
        )
    print(run.stdout[-3000:])
    assert report.exists(), run.stderr
    stats = json.loads(report.read_text())["run"]["stats"]
    failures = json.loads(report.read_text())["run"]["failures"]
    assert failures == [], run.stdout[-5000:]
    items = [
        item for folder in json.loads(collection.read_text())["item"] for item in folder["item"]
    ]
    # A request that shares a list registers the second account first, and the change
    # and deletion of the account register and log in one of their own (pm.sendRequest).
    registrations = sum(str(item["event"]).count("pm.sendRequest") for item in items)
    assert registrations == 1 + 2 * 2
    requests = len(items)
    total = requests + registrations
    assert stats["requests"] == {"total": total, "pending": 0, "failed": 0}
    assert stats["assertions"]["failed"] == 0
    assert stats["assertions"]["total"] >= requests
    assert run.returncode == 0
