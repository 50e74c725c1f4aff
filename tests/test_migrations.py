"""The Alembic migrations build exactly the schema the models describe."""

import uuid
from datetime import datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import create_engine, inspect, text

from api.factory import create_app
from models import db
from tests.conftest import make_config


@pytest.fixture
def empty_app(database, tmp_path):
    """An application on a database that has no tables yet."""
    if database is None:
        yield create_app(make_config(None, tmp_path))
        return
    schema = f"migrate_{uuid.uuid4().hex[:12]}"
    engine = create_engine(database["url"])
    with engine.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    yield create_app(make_config({**database, "schema": schema}, tmp_path))
    with engine.begin() as connection:
        connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    engine.dispose()


def test_upgrade_builds_the_models_schema(empty_app):
    with empty_app.app_context():
        upgrade()
        with db.engine.connect() as connection:
            diff = compare_metadata(MigrationContext.configure(connection), db.metadata)
        assert diff == []
        db.engine.dispose()


def test_upgrade_makes_sqlite_ids_never_reused(empty_app):
    with empty_app.app_context():
        upgrade()
        if db.engine.dialect.name != "sqlite":
            db.engine.dispose()
            pytest.skip("PostgreSQL's sequences never hand a value out twice")
        expected = {
            table.name
            for table in db.metadata.tables.values()
            if table.dialect_kwargs.get("sqlite_autoincrement")
        }
        with db.engine.connect() as connection:
            tables = connection.exec_driver_sql(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND sql LIKE '%AUTOINCREMENT%'"
            )
            assert {name for (name,) in tables} == expected
            assert "todos" in expected and "sync_streams" in expected
        db.engine.dispose()


def test_downgrade_removes_everything(empty_app):
    with empty_app.app_context():
        upgrade()
        downgrade(revision="base")
        tables = set(inspect(db.engine).get_table_names()) - {"alembic_version"}
        assert tables == set()
        with db.engine.connect() as connection:
            assert triggers(connection) == {}
        db.engine.dispose()


def test_db_upgrade_command(empty_app):
    result = empty_app.test_cli_runner().invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    with empty_app.app_context():
        assert "users" in inspect(db.engine).get_table_names()
        db.engine.dispose()


def triggers(connection) -> dict:
    """{name: definition} of the triggers, and on PostgreSQL their functions, here."""
    if connection.dialect.name == "sqlite":
        found = connection.execute(
            text("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")
        )
        return dict(found.all())
    schema = connection.execute(text("SELECT current_schema()")).scalar()
    found = connection.execute(
        text(
            "SELECT tgname, pg_get_triggerdef(t.oid) FROM pg_trigger t "
            "JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE NOT t.tgisinternal AND n.nspname = :schema "
            "UNION ALL SELECT proname, prosrc FROM pg_proc p "
            "JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = :schema"
        ),
        {"schema": schema},
    )
    return {name: definition.replace(f"{schema}.", "") for name, definition in found}


def test_upgrade_builds_the_models_triggers(empty_app):
    with empty_app.app_context():
        db.create_all()
        with db.engine.connect() as connection:
            created = triggers(connection)
        db.drop_all()
        with db.engine.connect() as connection:
            assert triggers(connection) == {}
        upgrade()
        with db.engine.connect() as connection:
            migrated = triggers(connection)
        db.engine.dispose()
    assert {"todos_count_insert", "bucket_members_count_delete", "items_count_move"} <= set(created)
    assert {"buckets_owner_joins", "buckets_name_copied"} <= set(created)
    assert migrated == created


NOW = {"now": datetime(2026, 1, 1)}


def insert_at(revision: str, *statements: str) -> None:
    """Migrate to `revision` and run `statements` there (`:now` is a fixed time)."""
    upgrade(revision=revision)
    with db.engine.begin() as connection:
        for statement in statements:
            connection.execute(text(statement), NOW)


def test_upgrade_counts_the_rows_already_there(empty_app):
    with empty_app.app_context():
        insert_at(
            "0ce74d37a805",
            "INSERT INTO users (id, email, password_hash, created_at) "
            "VALUES (1, 'a@example.com', 'x', :now), (2, 'b@example.com', 'x', :now)",
            "INSERT INTO todos (user_id, title, description, done, created_at, updated_at) "
            "VALUES (1, 't', '', false, :now, :now), (1, 'u', '', false, :now, :now)",
            "INSERT INTO buckets (id, user_id, name, description, created_at, updated_at) "
            "VALUES (1, 2, 'b', '', :now, :now), (2, 2, 'c', '', :now, :now)",
            "INSERT INTO items (bucket_id, user_id, name, description, done, created_at, "
            "updated_at) VALUES (2, 2, 'i', '', false, :now, :now), "
            "(2, 2, 'j', '', false, :now, :now), (2, 2, 'k', '', false, :now, :now)",
        )
        upgrade()
        with db.engine.begin() as connection:
            users = text("SELECT id, todo_count, bucket_count FROM users ORDER BY id")
            assert connection.execute(users).all() == [(1, 2, 0), (2, 0, 2)]
            buckets = text("SELECT id, item_count FROM buckets ORDER BY id")
            assert connection.execute(buckets).all() == [(1, 0), (2, 3)]
            # And from then on the triggers keep them.
            connection.execute(text("DELETE FROM buckets WHERE id = 2"))
            assert connection.execute(users).all() == [(1, 2, 0), (2, 0, 1)]
        # Neither way loses rows (a table copied on SQLite would cascade its deletion).
        downgrade(revision="0ce74d37a805")
        with db.engine.begin() as connection:
            assert connection.execute(text("SELECT count(*) FROM todos")).scalar() == 2
            assert connection.execute(text("SELECT count(*) FROM buckets")).scalar() == 1
        db.engine.dispose()


def test_every_upgrade_keeps_the_rows_already_there(empty_app):
    """From the first revision with bucket lists to the last, no row is lost.

    On SQLite, Alembic's batch mode copies a table to change it and drops the old one;
    with foreign keys enforced, that drop would delete the rows that refer to it.
    """
    tables = ("users", "api_keys", "todos", "buckets", "items")
    with empty_app.app_context():
        insert_at(
            "8aa813487bd9",
            "INSERT INTO users (id, email, password_hash, created_at) "
            "VALUES (1, 'a@example.com', 'x', :now)",
            "INSERT INTO api_keys (user_id, name, prefix, digest, created_at) "
            "VALUES (1, 'k', 'tdk_abc', 'd', :now)",
            "INSERT INTO todos (user_id, title, description, done, created_at, updated_at) "
            "VALUES (1, 't', '', false, :now, :now)",
            "INSERT INTO buckets (id, user_id, name, description, created_at, updated_at) "
            "VALUES (1, 1, 'b', '', :now, :now)",
            "INSERT INTO items (bucket_id, user_id, name, description, done, created_at, "
            "updated_at) VALUES (1, 1, 'i', '', false, :now, :now)",
        )
        upgrade()
        with db.engine.begin() as connection:
            count = "SELECT count(*) FROM {}"
            counts = {t: connection.execute(text(count.format(t))).scalar() for t in tables}
        assert counts == dict.fromkeys(tables, 1)
        db.engine.dispose()


def test_the_task_model_carries_the_todos_already_there(empty_app):
    with empty_app.app_context():
        insert_at(
            "853fc0491466",
            "INSERT INTO users (id, email, password_hash, created_at) "
            "VALUES (1, 'a@example.com', 'x', :now)",
            "INSERT INTO todos (id, user_id, title, description, done, created_at, updated_at) "
            "VALUES (3, 1, 'c', '', false, :now, :now), (1, 1, 'a', '', true, :now, :now), "
            "(2, 1, 'b', '', false, :now, :now)",
        )
        upgrade()
        with db.engine.begin() as connection:
            rows = connection.execute(
                text("SELECT id, priority, due_at, completed_at FROM todos ORDER BY position, id")
            ).all()
            assert rows == [(1, 0, None, None), (2, 0, None, None), (3, 0, None, None)]
            assert connection.execute(text("SELECT count(*) FROM todo_tags")).scalar() == 0
        downgrade(revision="853fc0491466")
        with db.engine.begin() as connection:
            assert connection.execute(text("SELECT count(*) FROM todos")).scalar() == 3
            columns = {c["name"] for c in inspect(connection).get_columns("todos")}
            assert "position" not in columns
            assert "tags" not in inspect(connection).get_table_names()
        db.engine.dispose()


def test_ordered_items_carry_the_items_already_there(empty_app):
    with empty_app.app_context():
        insert_at(
            "5c1f0a9e7d21",
            "INSERT INTO users (id, email, password_hash, created_at) "
            "VALUES (1, 'a@example.com', 'x', :now)",
            "INSERT INTO buckets (id, user_id, name, description, created_at, updated_at) "
            "VALUES (1, 1, 'b', '', :now, :now), (2, 1, 'c', '', :now, :now)",
            "INSERT INTO items (id, bucket_id, user_id, name, description, done, created_at, "
            "updated_at) VALUES (3, 1, 1, 'k', '', true, :now, :now), "
            "(1, 1, 1, 'i', '', true, :now, :now), (2, 1, 1, 'j', '', false, :now, :now), "
            "(4, 2, 1, 'l', '', false, :now, :now)",
        )
        upgrade()
        with db.engine.begin() as connection:
            items = text("SELECT id, completed_at FROM items WHERE bucket_id = 1 ORDER BY position")
            assert connection.execute(items).all() == [(1, None), (2, None), (3, None)]
            buckets = text("SELECT id, item_count, done_count FROM buckets ORDER BY id")
            assert connection.execute(buckets).all() == [(1, 3, 2), (2, 1, 0)]
            # And from then on the triggers keep the done count.
            connection.execute(text("UPDATE items SET done = true WHERE id = 4"))
            connection.execute(text("DELETE FROM items WHERE id = 1"))
            assert connection.execute(buckets).all() == [(1, 2, 1), (2, 1, 1)]
        downgrade(revision="5c1f0a9e7d21")
        with db.engine.begin() as connection:
            assert connection.execute(text("SELECT count(*) FROM items")).scalar() == 3
            columns = {c["name"] for c in inspect(connection).get_columns("items")}
            assert not columns & {"position", "completed_at"}
            # No trigger is left behind that names a dropped column.
            connection.execute(text("UPDATE items SET done = false"))
        db.engine.dispose()
