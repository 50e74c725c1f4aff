"""Counts kept by the database

Revision ID: 853fc0491466
Revises: 0ce74d37a805
Create Date: 2026-11-22 03:13:05.383712

`users.todo_count`, `users.bucket_count` and `buckets.item_count`, filled from the rows
there are, then kept exact by triggers on todos, buckets and items. The SQL is a frozen
copy of `models.counts` (migrations import no application code); the migration tests
check that both build the same triggers.
"""

from typing import NamedTuple

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "853fc0491466"
down_revision = "0ce74d37a805"
branch_labels = None
depends_on = None

EVENTS = ("insert", "delete", "move")


class Counter(NamedTuple):
    child: str
    key: str
    parent: str
    column: str

    def step(self, delta, row):
        return (
            f"UPDATE {self.parent} SET {self.column} = {self.column} {delta} 1 "
            f"WHERE id = {row}.{self.key};"
        )

    def moved(self):
        return f"{self.step('-', 'OLD')} {self.step('+', 'NEW')}"

    def added(self, rows, sign):
        return (
            f"UPDATE {self.parent} SET {self.column} = {self.column} {sign} counted.n "
            f"FROM (SELECT {self.key}, count(*) AS n FROM {rows} GROUP BY {self.key}) AS counted "
            f"WHERE {self.parent}.id = counted.{self.key};"
        )

    def create(self, dialect):
        name = f"{self.child}_count"
        if dialect != "postgresql":
            return [
                f"CREATE TRIGGER {name}_insert AFTER INSERT ON {self.child} FOR EACH ROW "
                f"BEGIN {self.step('+', 'NEW')} END",
                f"CREATE TRIGGER {name}_delete AFTER DELETE ON {self.child} FOR EACH ROW "
                f"BEGIN {self.step('-', 'OLD')} END",
                f"CREATE TRIGGER {name}_move AFTER UPDATE OF {self.key} ON {self.child} "
                f"FOR EACH ROW WHEN OLD.{self.key} IS NOT NEW.{self.key} BEGIN {self.moved()} END",
            ]
        function = (
            f"CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN "
            f"IF TG_OP = 'INSERT' THEN {self.added('new_rows', '+')} "
            f"ELSIF TG_OP = 'DELETE' THEN {self.added('old_rows', '-')} "
            f"ELSE {self.moved()} "
            f"END IF; "
            f"RETURN NULL; "
            f"END $$"
        )
        return [
            function,
            f"CREATE TRIGGER {name}_insert AFTER INSERT ON {self.child} "
            f"REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION {name}()",
            f"CREATE TRIGGER {name}_delete AFTER DELETE ON {self.child} "
            f"REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION {name}()",
            f"CREATE TRIGGER {name}_move AFTER UPDATE OF {self.key} ON {self.child} "
            f"FOR EACH ROW WHEN (OLD.{self.key} IS DISTINCT FROM NEW.{self.key}) "
            f"EXECUTE FUNCTION {name}()",
        ]

    def drop(self, dialect):
        name = f"{self.child}_count"
        if dialect != "postgresql":
            return [f"DROP TRIGGER IF EXISTS {name}_{event}" for event in EVENTS]
        triggers = [f"DROP TRIGGER IF EXISTS {name}_{event} ON {self.child}" for event in EVENTS]
        return [*triggers, f"DROP FUNCTION IF EXISTS {name}()"]

    def recount(self):
        return (
            f"UPDATE {self.parent} SET {self.column} = (SELECT count(*) FROM {self.child} "
            f"WHERE {self.child}.{self.key} = {self.parent}.id)"
        )


COUNTERS = (
    Counter("todos", "user_id", "users", "todo_count"),
    Counter("buckets", "user_id", "users", "bucket_count"),
    Counter("items", "bucket_id", "buckets", "item_count"),
)


def count_column(name):
    # A plain string default: with a SQL expression, batch mode copies the table on SQLite,
    # and dropping the old one (foreign keys on) would cascade to its todos and items.
    return sa.Column(name, sa.Integer(), server_default="0", nullable=False)


# Plain ALTER TABLE ADD/DROP COLUMN (SQLite 3.35+), not batch mode, for the same reason.


def upgrade():
    op.add_column("users", count_column("todo_count"))
    op.add_column("users", count_column("bucket_count"))
    op.add_column("buckets", count_column("item_count"))

    dialect = op.get_bind().dialect.name
    # Triggers first, then the counts: a row written meanwhile is counted once either way.
    for counter in COUNTERS:
        for statement in counter.create(dialect):
            op.execute(statement)
    for counter in COUNTERS:
        op.execute(counter.recount())


def downgrade():
    dialect = op.get_bind().dialect.name
    for counter in reversed(COUNTERS):
        for statement in counter.drop(dialect):
            op.execute(statement)

    op.drop_column("buckets", "item_count")
    op.drop_column("users", "bucket_count")
    op.drop_column("users", "todo_count")
