"""Row counts the database keeps itself: a user's todos and bucket lists (owned and
shared), a bucket's items (all of them, and the done ones), a tag's todos.

A list's `X-Total-Count` and a bucket's `item_count` are read from these columns instead
of counting rows per request. Triggers keep them exact on every INSERT and DELETE of the
counted rows, ON DELETE CASCADE and bulk inserts with Core included, and when a row
moves to another parent (an UPDATE of its foreign key) or, for a count of the rows with
a flag set (`only`), when the flag changes. Every change is one atomic
`SET n = n + delta` in the writer's own transaction, never a read-modify-write.

On PostgreSQL the INSERT and DELETE triggers run once per statement and add up the
statement's rows from its transition table, so a bulk insert updates each parent once
per statement; a row-level trigger would write a new version of the parent row for
every child row. They lock the parents they update in id order, so that two statements
counting into the same parents never deadlock. SQLite has only row-level triggers; there
an update by primary key is cheap.

`migrations/versions/..._counts_kept_by_the_database.py` holds a frozen copy of this
SQL, as migrations import no application code; `tests/test_migrations.py` checks that
the two build the same triggers.
"""

from typing import NamedTuple

from sqlalchemy import DDL, FetchedValue, Table, event, text
from sqlalchemy.orm import Mapped, mapped_column


def count_column() -> Mapped[int]:
    """A count the triggers keep: 0 for a new row, never written by the ORM."""
    # server_onupdate: the ORM takes the value as the database's, fetched after an UPDATE.
    return mapped_column(server_default=text("0"), server_onupdate=FetchedValue())


class Counter(NamedTuple):
    """`parent.column` counts the rows of `child` whose `key` is the parent's id (and
    whose boolean column `only` is true, when given)."""

    child: str
    key: str
    parent: str
    column: str
    only: str | None = None

    @property
    def name(self) -> str:
        """The name of the triggers (and PostgreSQL's function)."""
        return f"{self.child}_count" if self.only is None else f"{self.child}_{self.column}"

    def _step(self, delta: str, row: str) -> str:
        counted = "" if self.only is None else f" AND {row}.{self.only}"
        return (
            f"UPDATE {self.parent} SET {self.column} = {self.column} {delta} 1 "
            f"WHERE id = {row}.{self.key}{counted};"
        )

    def _moved(self) -> str:
        return f"{self._step('-', 'OLD')} {self._step('+', 'NEW')}"

    @property
    def _watched(self) -> list[str]:
        """The columns whose change can move a row in or out of a parent's count."""
        return [self.key] if self.only is None else [self.key, self.only]

    def _sqlite(self) -> list[str]:
        name = self.name
        changed = " OR ".join(f"OLD.{column} IS NOT NEW.{column}" for column in self._watched)
        return [
            f"CREATE TRIGGER {name}_insert AFTER INSERT ON {self.child} FOR EACH ROW "
            f"BEGIN {self._step('+', 'NEW')} END",
            f"CREATE TRIGGER {name}_delete AFTER DELETE ON {self.child} FOR EACH ROW "
            f"BEGIN {self._step('-', 'OLD')} END",
            f"CREATE TRIGGER {name}_move AFTER UPDATE OF {', '.join(self._watched)} "
            f"ON {self.child} FOR EACH ROW WHEN {changed} BEGIN {self._moved()} END",
        ]

    def _added(self, rows: str, sign: str) -> str:
        counted = "" if self.only is None else f" WHERE {self.only}"
        # The parents are locked in id order first: an UPDATE ... FROM locks them in
        # whatever order its join yields, and two statements each counting rows of the
        # same parents (two todos' tags) could deadlock.
        return (
            f"PERFORM 1 FROM {self.parent} WHERE id IN (SELECT {self.key} FROM {rows}) "
            f"ORDER BY id FOR NO KEY UPDATE; "
            f"UPDATE {self.parent} SET {self.column} = {self.column} {sign} counted.n "
            f"FROM (SELECT {self.key}, count(*) AS n FROM {rows}{counted} "
            f"GROUP BY {self.key}) AS counted "
            f"WHERE {self.parent}.id = counted.{self.key};"
        )

    def _postgresql(self) -> list[str]:
        name = self.name
        changed = " OR ".join(
            f"OLD.{column} IS DISTINCT FROM NEW.{column}" for column in self._watched
        )
        function = (
            f"CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN "
            f"IF TG_OP = 'INSERT' THEN {self._added('new_rows', '+')} "
            f"ELSIF TG_OP = 'DELETE' THEN {self._added('old_rows', '-')} "
            f"ELSE {self._moved()} "
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
            # Transition tables cannot go with a column list; moves are rare and per row.
            f"CREATE TRIGGER {name}_move AFTER UPDATE OF {', '.join(self._watched)} "
            f"ON {self.child} FOR EACH ROW WHEN ({changed}) EXECUTE FUNCTION {name}()",
        ]

    def create(self, dialect: str) -> list[str]:
        """The statements that create the triggers on `dialect` ("sqlite", "postgresql")."""
        return self._postgresql() if dialect == "postgresql" else self._sqlite()

    def drop_function(self) -> str:
        """PostgreSQL: dropping the table drops its triggers, but not their function."""
        return f"DROP FUNCTION IF EXISTS {self.name}()"


COUNTERS = (
    Counter("todos", "user_id", "users", "todo_count"),
    # Every list an account can see, owned or shared.
    Counter("bucket_members", "user_id", "users", "bucket_count"),
    Counter("items", "bucket_id", "buckets", "item_count"),
    Counter("items", "bucket_id", "buckets", "done_count", only="done"),
    Counter("todo_tags", "tag_id", "tags", "todo_count"),
)


def maintain_counts(child: Table) -> None:
    """Create the triggers of the counters of `child` with the table (`create_all`)."""
    for counter in COUNTERS:
        if counter.child != child.name:
            continue
        for dialect in ("sqlite", "postgresql"):
            for statement in counter.create(dialect):
                event.listen(child, "after_create", DDL(statement).execute_if(dialect=dialect))
        drop = DDL(counter.drop_function()).execute_if(dialect="postgresql")
        event.listen(child, "after_drop", drop)
