"""`manage.py export` and `import`: an account's data out and back in, from the command line,
and an import killed half-way."""

import json
import os
import subprocess
import sys

import pytest
from sqlalchemy import create_engine, func, select

from models import Bucket, Item, SyncChange, Tag, Todo, User
from models.archive import FORMAT
from tests.live import ROOT, manage, server_database

pytestmark = pytest.mark.slow

PASSWORD = "password-123"  # noqa: S105 (a test account's)


@pytest.fixture
def database_url(database, tmp_path):
    with server_database(database, tmp_path) as url:
        manage("db", "upgrade", env={"DATABASE_URL": url})
        yield url


def counts(url: str, email: str) -> dict:
    """How many rows of each kind the account with `email` has."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            user_id = connection.scalar(select(User.id).where(User.email == email))
            return {
                model.__name__: connection.scalar(
                    select(func.count()).select_from(model).where(model.user_id == user_id)
                )
                for model in (Todo, Tag, Bucket, Item)
            } | {"SyncChange": connection.scalar(select(func.count()).select_from(SyncChange))}
    finally:
        engine.dispose()


def test_export_then_import_into_another_account(database_url, tmp_path):
    env = {"DATABASE_URL": database_url}
    manage("seed", "--todos", "250", "--buckets", "4", "--items", "40", "--seed", "7", env=env)
    manage("create-user", "new@example.com", "--password", PASSWORD, env=env)
    exported = tmp_path / "demo.json"
    said = manage("export", " Demo@Example.COM", "-o", str(exported), env=env)
    assert "Exported demo@example.com" in said
    document = json.loads(exported.read_text())
    assert document["format"] == FORMAT and len(document["todos"]) == 250
    assert document["account"] == {"email": "demo@example.com"}  # as stored, however typed
    said = manage("import", "new@example.com", str(exported), env=env)
    assert "250 todos, 4 bucket lists, 40 items, 0 members added" in said
    demo, new = counts(database_url, "demo@example.com"), counts(database_url, "new@example.com")
    assert {k: new[k] for k in ("Todo", "Tag", "Bucket", "Item")} == {
        k: demo[k] for k in ("Todo", "Tag", "Bucket", "Item")
    }
    # Seeded rows have no sync record; every imported one has (todos, lists, items).
    assert new["SyncChange"] == 250 + 4 + 40


def test_a_document_of_another_version_changes_nothing(database_url, tmp_path):
    env = {"DATABASE_URL": database_url}
    manage("create-user", "new@example.com", "--password", PASSWORD, env=env)
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"format": FORMAT, "version": 2, "todos": [{"title": "t"}]}))
    said = manage("import", "new@example.com", str(other), env=env, check=False)
    assert "version 1" in said and "version 2" in said
    broken = tmp_path / "broken.json"
    broken.write_text('{"format": ')
    assert "is not JSON" in manage("import", "new@example.com", str(broken), env=env, check=False)
    assert "No account" in manage("export", "nobody@example.com", "-o", "-", env=env, check=False)
    # Read as a body is: a NUL, which no database keeps alike, is refused.
    nul = tmp_path / "nul.json"
    nul.write_text(json.dumps({"format": FORMAT, "version": 1, "todos": [{"title": "a\u0000b"}]}))
    assert "NUL" in manage("import", "new@example.com", str(nul), env=env, check=False)
    assert counts(database_url, "new@example.com")["Todo"] == 0


# `manage.py`, except that the process dies (exit code 1) as it starts writing items (on
# SQLite their INSERT; on PostgreSQL the drawing of their ids, before their COPY): an
# import has written its todos, their tags and its bucket lists by then, uncommitted.
DIES_HALF_WAY = """
import os
import sys

from sqlalchemy import event
from sqlalchemy.engine import Engine


@event.listens_for(Engine, "before_cursor_execute")
def die(connection, cursor, statement, parameters, context, executemany):
    inserts = statement.lstrip().upper().startswith("INSERT INTO ITEMS")
    draws = "nextval" in statement and "items" in str(parameters)
    if inserts or draws:
        os._exit(1)


import manage

manage.cli.main(sys.argv[1:], prog_name="manage.py")
"""


def test_an_import_killed_half_way_leaves_nothing(database_url, tmp_path):
    env = {"DATABASE_URL": database_url}
    manage("seed", "--todos", "300", "--buckets", "3", "--items", "30", "--seed", "3", env=env)
    manage("create-user", "new@example.com", "--password", PASSWORD, env=env)
    exported = tmp_path / "demo.json"
    manage("export", "demo@example.com", "-o", str(exported), env=env)
    before = counts(database_url, "new@example.com")
    killed = subprocess.run(
        [sys.executable, "-c", DIES_HALF_WAY, "import", "new@example.com", str(exported)],
        cwd=ROOT,
        env={**os.environ, "APP_ENV": "development", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert killed.returncode == 1, killed.stderr
    assert "Imported" not in killed.stdout
    assert before == {"Todo": 0, "Tag": 0, "Bucket": 0, "Item": 0, "SyncChange": 0}
    assert counts(database_url, "new@example.com") == before
    # The same import, not killed, lands whole.
    manage("import", "new@example.com", str(exported), env=env)
    assert counts(database_url, "new@example.com")["Todo"] == 300
