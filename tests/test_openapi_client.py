"""A client generated from `openapi.json` by openapi-python-client works against a live
server: register, log in, create an API key, todo CRUD, a masked list, a bucket list
with an item.

The generator runs as a subprocess, offline, on the document a live `manage.py run`
serves, with `--fail-on-warning`: a part of the document it cannot understand fails
the test. The generated package is then imported and used as its README says.
"""

import contextlib
import importlib
import importlib.util
import json
import os
import subprocess
import sys
import urllib.request

import pytest

from tests.live import server, server_database
from tests.security.conftest import FAST_HASH

INSTALLED = importlib.util.find_spec("openapi_python_client") is not None
pytestmark = [
    pytest.mark.slow,
    # The test extra brings it (README's test command, so CI); there its absence fails.
    pytest.mark.skipif(
        not INSTALLED and not os.environ.get("CI"),
        reason="openapi-python-client is not installed: pip install -e '.[test]'",
    ),
]

PACKAGE = "generated_todos_client"
GENERATOR_CONFIG = {
    "package_name_override": PACKAGE,
    "project_name_override": "generated-todos-client",
    # No formatting of the generated code: it is imported, not read.
    "post_hooks": [],
}


def generate_client(document: dict, folder) -> None:
    """Write `document` and openapi-python-client's package for it into `folder`."""
    (folder / "openapi.json").write_text(json.dumps(document))
    # The config is YAML, of which JSON is a part.
    (folder / "config.yaml").write_text(json.dumps(GENERATOR_CONFIG))
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "openapi_python_client",
            "generate",
            "--path",
            str(folder / "openapi.json"),
            "--config",
            str(folder / "config.yaml"),
            "--output-path",
            str(folder / "client"),
            "--fail-on-warning",
        ],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert (folder / "client" / PACKAGE / "__init__.py").exists(), done.stdout


@pytest.fixture
def generated(tmp_path, monkeypatch):
    """A function that generates the client of a document and imports its package."""

    def load(document: dict):
        generate_client(document, tmp_path)
        monkeypatch.syspath_prepend(str(tmp_path / "client"))
        return importlib.import_module(PACKAGE)

    yield load
    for name in [name for name in sys.modules if name.split(".")[0] == PACKAGE]:
        del sys.modules[name]


def served_document(base_url: str) -> dict:
    with urllib.request.urlopen(base_url + "/api/v1/openapi.json", timeout=30) as response:
        return json.load(response)


def test_a_generated_client_drives_a_live_server(database, tmp_path, generated):
    with (
        server_database(database, tmp_path) as url,
        server("run", env={"DATABASE_URL": url, **FAST_HASH}, log=tmp_path / "server.log") as base,
    ):
        document = served_document(base)
        api_url = document["servers"][0]["url"]
        assert api_url == base + "/api/v1"
        package = generated(document)
        drive(package, api_url)


def operation(tag: str, operation_id: str):
    """The generated module of one operation: its `sync` and `sync_detailed` calls."""
    return importlib.import_module(f"{PACKAGE}.api.{tag}.{operation_id}")


def drive(package, api_url: str) -> None:
    """Make the calls the issue names with the generated package; close its clients."""
    with contextlib.ExitStack() as clients:
        calls(package, api_url, clients)


def calls(package, api_url: str, clients: contextlib.ExitStack) -> None:
    """Register, log in, make a key, todo CRUD, a masked list, a bucket list with an item:
    through the generated package only, each client it opens entered into `clients`."""
    models = importlib.import_module(f"{PACKAGE}.models")
    unset = importlib.import_module(f"{PACKAGE}.types").UNSET
    register, login = operation("auth", "post_register"), operation("auth", "post_login")
    me, create_key = operation("auth", "get_me"), operation("auth", "post_key_list")
    create_todo, get_todo = operation("todos", "post_todo_list"), operation("todos", "get_todo")
    put_todo, patch_todo = operation("todos", "put_todo"), operation("todos", "patch_todo")
    list_todos, delete_todo = operation("todos", "get_todo_list"), operation("todos", "delete_todo")
    create_bucket = operation("bucketlist", "post_bucket_list")
    create_item = operation("bucketlist", "post_item_list")
    get_bucket = operation("bucketlist", "get_bucket")

    anonymous = clients.enter_context(
        package.Client(base_url=api_url, raise_on_unexpected_status=True)
    )
    credentials = models.Credentials(email="Gen@Example.com", password="generated-pass-1")

    # Register, log in (a bearer token), and make an API key with the token.
    registered = register.sync_detailed(client=anonymous, body=credentials)
    assert registered.status_code == 201
    assert registered.parsed.email == "gen@example.com"
    signed_in = models.Login(email="Gen@Example.com", password="generated-pass-1")
    token = login.sync(client=anonymous, body=signed_in)
    assert isinstance(token, models.AccessToken) and token.token_type == "Bearer"
    bearer = clients.enter_context(
        package.AuthenticatedClient(
            base_url=api_url, token=token.access_token, raise_on_unexpected_status=True
        )
    )
    assert me.sync(client=bearer).email == "gen@example.com"
    new_key = create_key.sync_detailed(client=bearer, body=models.ApiKeyInput(name="gen"))
    assert new_key.status_code == 201
    key = clients.enter_context(
        package.AuthenticatedClient(
            base_url=api_url,
            token=new_key.parsed.key,
            prefix="",
            auth_header_name="X-API-KEY",
            raise_on_unexpected_status=True,
        )
    )
    assert me.sync(client=key).email == "gen@example.com"

    # Todo CRUD with the key.
    created = create_todo.sync_detailed(client=key, body=models.TodoInput(title="Buy milk"))
    assert created.status_code == 201
    todo = created.parsed
    assert isinstance(todo, models.Todo) and todo.done is False
    assert todo.uri == created.headers["Location"]
    assert get_todo.sync(todo.id, client=key).title == "Buy milk"
    replaced = put_todo.sync(
        todo.id, client=key, body=models.TodoInput(title="Buy oat milk", done=True)
    )
    assert (replaced.title, replaced.done, replaced.description) == ("Buy oat milk", True, "")
    patched = patch_todo.sync(todo.id, client=key, body=models.TodoPatch(description="Two litres"))
    assert (patched.title, patched.done, patched.description) == (
        "Buy oat milk",
        True,
        "Two litres",
    )
    create_todo.sync(client=key, body=models.TodoInput(title="Call Ada"))

    # A list with a field mask: only the fields asked for come back.
    listed = list_todos.sync_detailed(client=key, x_fields="{id,title}")
    assert listed.status_code == 200
    assert [row.title for row in listed.parsed] == ["Buy oat milk", "Call Ada"]
    assert all(row.done is unset and row.uri is unset for row in listed.parsed)
    assert [sorted(row) for row in json.loads(listed.content)] == [["id", "title"]] * 2
    assert listed.headers["X-Total-Count"] == "2"

    deleted = delete_todo.sync_detailed(todo.id, client=key)
    assert deleted.status_code == 204
    gone = get_todo.sync_detailed(todo.id, client=key)
    assert gone.status_code == 404
    assert isinstance(gone.parsed, models.Error) and gone.parsed.status == 404
    assert gone.headers["Content-Type"] == "application/problem+json"

    # A bucket list with an item.
    bucket = create_bucket.sync(client=key, body=models.BucketInput(name="Travel"))
    item = create_item.sync(bucket.id, client=key, body=models.ItemInput(name="See the aurora"))
    assert isinstance(item, models.Item) and item.done is False
    fetched = get_bucket.sync(bucket.id, client=key)
    assert fetched.item_count == 1
    assert [(i.id, i.name) for i in fetched.items] == [(item.id, "See the aurora")]
