"""Ids are never reused

Revision ID: b9d0e2f4a6c8
Revises: a7d3e5b9c1f4
Create Date: 2026-12-05 13:00:00.000000

SQLite hands the id of the newest row out again once that row is deleted, unless the
table says AUTOINCREMENT; PostgreSQL's sequences never do. A client may still hold a
deleted row's id (an offline queue of writes, a sync token naming a list's record), so
on SQLite every table whose key is `id` is rebuilt with AUTOINCREMENT. Nothing changes
on PostgreSQL.
"""

from alembic import op

# revision identifiers, used by Alembic.
revision = "b9d0e2f4a6c8"
down_revision = "a7d3e5b9c1f4"
branch_labels = None
depends_on = None

TABLES = (
    "users",
    "api_keys",
    "access_tokens",
    "todos",
    "tags",
    "buckets",
    "items",
    "sync_streams",
    "idempotency_keys",
)


def rebuild(autoincrement: bool) -> None:
    """Rebuild each table, with or without AUTOINCREMENT. Batch mode copies a table and
    renames the copy, which the triggers naming it (the counts) would fail: every
    trigger is set aside, as SQLite stores it, and put back after."""
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return
    triggers = bind.exec_driver_sql(
        "SELECT name, sql FROM sqlite_master WHERE type = 'trigger'"
    ).all()
    for name, _ in triggers:
        op.execute(f'DROP TRIGGER "{name}"')
    for table in TABLES:
        with op.batch_alter_table(
            table, recreate="always", table_kwargs={"sqlite_autoincrement": autoincrement}
        ):
            pass
    for _, sql in triggers:
        op.execute(sql)


def upgrade():
    rebuild(True)


def downgrade():
    rebuild(False)
