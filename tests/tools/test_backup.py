"""`manage.py backup` and `restore`: consistent copies of the SQLite database, and no
restore under a running server."""

import os
import sqlite3
import threading
import time

import pytest
from sqlalchemy import func, select

import manage
from api.tools import backup as backup_tools
from models import Todo, db
from tests.live import call, register, server_process
from tests.live import manage as run_manage

pytestmark = pytest.mark.usefixtures("app")


@pytest.fixture
def sqlite_only(database):
    if database is not None:
        pytest.skip("backup and restore copy SQLite files; PostgreSQL has pg_dump")


def database_file():
    return backup_tools.sqlite_database(str(db.engine.url))


def rows(path, table="todos") -> int:
    with sqlite3.connect(path) as connection:
        return connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # noqa: S608


def add_todos(alice, count: int) -> None:
    db.session.add_all(Todo(user_id=alice.user.id, title=f"Todo {n}") for n in range(count))
    db.session.commit()


def test_a_backup_is_a_sound_copy_holding_every_row(sqlite_only, runner, alice, tmp_path):
    add_todos(alice, 25)
    target = tmp_path / "copy.db"
    result = runner.invoke(manage.cli, ["backup", "-o", str(target)])
    assert result.exit_code == 0, result.output
    assert "integrity check: ok" in result.output
    with sqlite3.connect(target) as copy:
        assert copy.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert copy.execute("PRAGMA journal_mode").fetchone() == ("delete",)
    assert rows(target) == 25
    assert not list(tmp_path.glob(".copy.db*"))  # no partial file left


def test_an_existing_file_is_replaced_only_with_force(sqlite_only, runner, alice, tmp_path):
    add_todos(alice, 3)
    target = tmp_path / "copy.db"
    target.write_text("keep me")
    result = runner.invoke(manage.cli, ["backup", "-o", str(target)])
    assert result.exit_code == 1
    assert "exists; pass --force" in result.output
    assert target.read_text() == "keep me"
    result = runner.invoke(manage.cli, ["backup", "-o", str(target), "--force"])
    assert result.exit_code == 0, result.output
    assert rows(target) == 3


@pytest.mark.parametrize("where", ["missing/folder/copy.db", "a-file/copy.db"])
def test_an_unwritable_destination_is_a_clear_error_and_writes_nothing(
    sqlite_only, runner, tmp_path, where
):
    (tmp_path / "a-file").write_text("not a folder")
    before = sorted(tmp_path.rglob("*"))
    result = runner.invoke(manage.cli, ["backup", "-o", str(tmp_path / where)])
    assert result.exit_code == 1
    assert result.output.startswith("Error: Cannot write")
    assert "Traceback" not in result.output
    assert sorted(tmp_path.rglob("*")) == before


def test_restore_brings_the_backup_back(sqlite_only, runner, alice, tmp_path):
    add_todos(alice, 10)
    target = tmp_path / "copy.db"
    assert runner.invoke(manage.cli, ["backup", "-o", str(target)]).exit_code == 0
    db.session.execute(db.delete(Todo))
    db.session.commit()
    result = runner.invoke(manage.cli, ["restore", str(target)])
    assert result.exit_code == 0, result.output
    assert "integrity check: ok" in result.output
    db.session.remove()
    assert db.session.scalar(select(func.count()).select_from(Todo)) == 10


def test_restore_refuses_while_a_server_holds_the_database(sqlite_only, runner, alice, tmp_path):
    add_todos(alice, 2)
    target = tmp_path / "copy.db"
    assert runner.invoke(manage.cli, ["backup", "-o", str(target)]).exit_code == 0
    add_todos(alice, 5)
    held = backup_tools.hold_server_lock(database_file())
    try:
        result = runner.invoke(manage.cli, ["restore", str(target)])
    finally:
        os.close(held)
    assert result.exit_code == 1
    assert "A server is using" in result.output
    assert db.session.scalar(select(func.count()).select_from(Todo)) == 7


def test_a_server_does_not_start_during_a_restore(sqlite_only, tmp_path):
    import fcntl

    descriptor = os.open(backup_tools.lock_path(database_file()), os.O_RDWR | os.O_CREAT)
    fcntl.flock(descriptor, fcntl.LOCK_EX)
    try:
        with pytest.raises(backup_tools.BackupError, match="restore .* is under way"):
            backup_tools.hold_server_lock(database_file())
    finally:
        os.close(descriptor)


@pytest.mark.parametrize("kind", ["not a database", "another database", "missing"])
def test_restore_refuses_what_is_not_a_backup(sqlite_only, runner, alice, tmp_path, kind):
    add_todos(alice, 4)
    source = tmp_path / "source.db"
    if kind == "not a database":
        source.write_bytes(b"hello " * 2000)
    elif kind == "another database":
        with sqlite3.connect(source) as other:
            other.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY)")
    result = runner.invoke(manage.cli, ["restore", str(source)])
    assert result.exit_code == 1
    assert "Traceback" not in result.output and result.output.startswith("Error: ")
    assert db.session.scalar(select(func.count()).select_from(Todo)) == 4


def test_postgresql_is_pointed_at_its_own_tools(database, runner, tmp_path):
    if database is None:
        pytest.skip("needs TEST_DATABASE_URL (PostgreSQL)")
    result = runner.invoke(manage.cli, ["backup", "-o", str(tmp_path / "copy.db")])
    assert result.exit_code == 1
    assert "pg_dump" in result.output and "pg_restore" in result.output
    assert not (tmp_path / "copy.db").exists()


@pytest.mark.slow
def test_a_backup_under_writes_holds_every_write_acknowledged_before_it(sqlite_only, tmp_path):
    """`serve` takes writes from 4 threads; the backup, taken meanwhile, holds every todo
    whose 201 came before it started, and passes its integrity check; a restore is refused."""
    url = f"sqlite:///{tmp_path / 'served.db'}"
    env = {"APP_ENV": "production", "SECRET_KEY": "backup-secret", "DATABASE_URL": url}
    run_manage("db", "upgrade", env=env)
    log = tmp_path / "server.log"
    with server_process("serve", "--workers", "2", env=env, log=log) as (base, _):
        account = register(base, "backup@example.com")
        acknowledged: list[tuple[float, int]] = []
        stop = threading.Event()

        def write():
            deadline = time.monotonic() + 20
            while not stop.is_set() and time.monotonic() < deadline:
                status, _, body = call(
                    "POST", base + "/api/v1/todos/", {"title": "w"}, account.headers
                )
                if status == 201:
                    acknowledged.append((time.monotonic(), body["id"]))

        writers = [threading.Thread(target=write) for _ in range(4)]
        for writer in writers:
            writer.start()
        time.sleep(1.5)
        began = time.monotonic()
        done = run_manage("backup", "-o", str(tmp_path / "copy.db"), env=env)
        time.sleep(0.5)
        refused = run_manage("restore", str(tmp_path / "copy.db"), env=env, check=False)
        stop.set()
        for writer in writers:
            writer.join()
    assert "integrity check: ok" in done
    assert "A server is using" in refused
    before = {ident for at, ident in acknowledged if at < began}
    after = {ident for at, ident in acknowledged if at >= began}
    print(f"backup: {len(before)} writes acknowledged before it, {len(after)} during or after")
    assert len(before) >= 20 and after, (len(before), len(after))
    with sqlite3.connect(tmp_path / "copy.db") as copy:
        assert copy.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        copied = {row[0] for row in copy.execute("SELECT id FROM todos")}
    assert before <= copied
