"""Counters lock the rows they count into in id order

Revision ID: d41e7b9a0c56
Revises: b7e2d4c61a08
Create Date: 2026-12-04 17:20:00.000000

On PostgreSQL the statement-level count triggers (`models.counts`) updated several parent
rows with one `UPDATE ... FROM`, which locks them in the order its join yields: two
statements counting into the same two tags could each hold one and wait for the other (a
deadlock, answered 409, when todos with the same tags were created at once). Each
function now locks its parents in id order first. The SQL is a frozen copy of
`models.counts`, with and without the lock; SQLite's row triggers do not change.
"""

from typing import NamedTuple

from alembic import op

# revision identifiers, used by Alembic.
revision = "d41e7b9a0c56"
down_revision = "b7e2d4c61a08"
branch_labels = None
depends_on = None


class Counter(NamedTuple):
    child: str
    key: str
    parent: str
    column: str
    only: str | None = None

    @property
    def name(self):
        return f"{self.child}_count" if self.only is None else f"{self.child}_{self.column}"

    def step(self, delta, row):
        counted = "" if self.only is None else f" AND {row}.{self.only}"
        return (
            f"UPDATE {self.parent} SET {self.column} = {self.column} {delta} 1 "
            f"WHERE id = {row}.{self.key}{counted};"
        )

    def added(self, rows, sign, locking):
        counted = "" if self.only is None else f" WHERE {self.only}"
        lock = (
            f"PERFORM 1 FROM {self.parent} WHERE id IN (SELECT {self.key} FROM {rows}) "
            f"ORDER BY id FOR NO KEY UPDATE; "
        )
        return (lock if locking else "") + (
            f"UPDATE {self.parent} SET {self.column} = {self.column} {sign} counted.n "
            f"FROM (SELECT {self.key}, count(*) AS n FROM {rows}{counted} "
            f"GROUP BY {self.key}) AS counted "
            f"WHERE {self.parent}.id = counted.{self.key};"
        )

    def function(self, locking):
        return (
            f"CREATE OR REPLACE FUNCTION {self.name}() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN "
            f"IF TG_OP = 'INSERT' THEN {self.added('new_rows', '+', locking)} "
            f"ELSIF TG_OP = 'DELETE' THEN {self.added('old_rows', '-', locking)} "
            f"ELSE {self.step('-', 'OLD')} {self.step('+', 'NEW')} "
            f"END IF; "
            f"RETURN NULL; "
            f"END $$"
        )


COUNTERS = (
    Counter("todos", "user_id", "users", "todo_count"),
    Counter("buckets", "user_id", "users", "bucket_count"),
    Counter("items", "bucket_id", "buckets", "item_count"),
    Counter("items", "bucket_id", "buckets", "done_count", only="done"),
    Counter("todo_tags", "tag_id", "tags", "todo_count"),
)


def replace_functions(locking: bool) -> None:
    if op.get_bind().dialect.name == "postgresql":
        for counter in COUNTERS:
            op.execute(counter.function(locking))


def upgrade():
    replace_functions(locking=True)


def downgrade():
    replace_functions(locking=False)
