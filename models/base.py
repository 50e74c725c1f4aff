"""The SQLAlchemy extension and the pieces every model shares."""

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import Boolean, DateTime, MetaData, String, event, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    declared_attr,
    mapped_column,
    registry,
    validates,
)
from sqlalchemy.sql.functions import GenericFunction
from sqlalchemy.types import TypeDecorator

from .ordering import FIRST, MAX_LENGTH

# Stable constraint names keep Alembic migrations identical on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


def _lower(text: str | None) -> str | None:
    return None if text is None else text.lower()


@event.listens_for(Engine, "connect")
def _configure_sqlite(connection, record):
    """Foreign keys on (for cascades), WAL and a busy timeout for concurrent writers, and
    `unicode_lower` (SQLite's own `lower` knows only ASCII letters)."""
    if isinstance(connection, sqlite3.Connection):
        connection.create_function("unicode_lower", 1, _lower, deterministic=True)
        cursor = connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA busy_timeout = 15000")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.close()


def refresh_statistics() -> None:
    """Give the query planner fresh statistics of every table and index (ANALYZE).

    Without them the planner guesses which index is selective, and can choose the index
    of a filter that matches a tenth of the rows, sort every match and keep twenty
    (SQLite: 16 ms instead of 0.2 ms for `overdue=true` at a million todos). SQLite never
    gathers them itself; it samples at most `analysis_limit` rows of each index, a few
    milliseconds at a million rows. PostgreSQL's autovacuum does, but only once its
    thresholds and naptime have passed, which a bulk load outruns (there, 96 ms for the
    same page right after seeding a million todos).
    """
    with db.engine.begin() as connection:
        if connection.dialect.name == "sqlite":
            connection.exec_driver_sql("PRAGMA analysis_limit = 400")
        connection.exec_driver_sql("ANALYZE")


def begin_writing(session) -> None:
    """Start `session`'s transaction as a writer: on SQLite, take the database's write
    lock now instead of at the first write, so what is read next cannot change before it.

    Python's sqlite3 opens a transaction only at the first INSERT, UPDATE or DELETE; the
    reads before it see whatever is committed meanwhile. Elsewhere this does nothing:
    row locks (`with_for_update`) do the same job.
    """
    connection = session.connection()
    if connection.dialect.name != "sqlite":
        return
    driver = connection.connection.driver_connection
    if not driver.in_transaction:
        connection.execute(text("BEGIN IMMEDIATE"))


@contextmanager
def snapshot(engine: Engine, batch: int = 1000) -> Iterator[Connection]:
    """A connection of its own whose reads all see the database as one moment left it,
    and whose results stream, `batch` rows fetched at a time instead of all at once.

    PostgreSQL: a REPEATABLE READ, READ ONLY transaction. SQLite: a deferred `BEGIN`,
    whose first read fixes what the later ones see (in WAL mode writers go on meanwhile).
    Rolled back at the end: nothing is written through it.
    """
    with engine.connect() as connection:
        streamed = connection.execution_options(yield_per=batch)
        if connection.dialect.name == "postgresql":
            streamed = streamed.execution_options(
                isolation_level="REPEATABLE READ", postgresql_readonly=True
            )
            with streamed.begin():
                yield streamed
            return
        with streamed.begin():
            streamed.exec_driver_sql("BEGIN")
            yield streamed


class unicode_lower(GenericFunction):  # noqa: N801 (a SQL function, named as SQL names it)
    """`lower()` of text in every language: PostgreSQL's own, and on SQLite the function
    each connection registers (see `_configure_sqlite`)."""

    type = String()
    inherit_cache = True


@compiles(unicode_lower)
def _lower_elsewhere(element, compiler, **kw):
    return f"lower({compiler.process(element.clauses, **kw)})"


@compiles(unicode_lower, "sqlite")
def _lower_on_sqlite(element, compiler, **kw):
    return f"unicode_lower({compiler.process(element.clauses, **kw)})"


class UTCDateTime(TypeDecorator):
    """An aware UTC datetime, stored naive so SQLite and PostgreSQL agree."""

    impl = DateTime
    cache_ok = True

    @property
    def python_type(self):
        return datetime

    def process_bind_param(self, value, dialect):
        if value is not None and value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        if value is not None:
            value = value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    registry = registry(
        metadata=MetaData(naming_convention=NAMING_CONVENTION),
        type_annotation_map={datetime: UTCDateTime},
    )


# Objects stay usable after commit: the response is marshalled from what was written.
db = SQLAlchemy(model_class=Base, session_options={"expire_on_commit": False})


class Timestamped:
    """`created_at` and `updated_at`, set by the database session, never by clients."""

    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    def update(self, data: dict) -> None:
        for key, value in data.items():
            setattr(self, key, value)


class Versioned:
    """A version counter for optimistic concurrency.

    SQLAlchemy bumps `version` with every UPDATE and adds `WHERE version = <the version
    loaded>` to each UPDATE and DELETE of the row, raising `StaleDataError` when another
    transaction changed the row first. A conditional request is checked against what
    was loaded, and the write only lands if the row is still that version: the check
    and the write are one atomic statement, on SQLite and PostgreSQL alike.
    """

    version: Mapped[int] = mapped_column(server_default=text("1"))

    @declared_attr.directive
    def __mapper_args__(cls):
        # What the database sets on UPDATE (a bucket's item count) comes back in the
        # UPDATE's RETURNING, not by a SELECT when the response reads it.
        return {"version_id_col": cls.__table__.c.version, "eager_defaults": True}


class Completable:
    """`done`, and `completed_at`: when the row was last marked done (None while open)."""

    done: Mapped[bool] = mapped_column(Boolean, default=False)
    completed_at: Mapped[datetime | None] = mapped_column(default=None)

    @validates("done")
    def _keep_completed_at(self, key, done):
        if done and not self.done:
            self.completed_at = utcnow()
        elif not done:
            self.completed_at = None
        return done


# Positions compare byte by byte (models.ordering), whatever the database's locale.
Position = String(MAX_LENGTH).with_variant(String(MAX_LENGTH, collation="C"), "postgresql")


class Ordered:
    """`position`: the row's place in its list's manual order (`models.ordering`).

    The API gives a new row the last place; rows inserted without one (bulk loads) share
    the first and keep their id order.
    """

    position: Mapped[str] = mapped_column(Position, default=FIRST)


def never_reuse_ids(metadata: MetaData) -> None:
    """Ids are never handed out twice, on SQLite too (AUTOINCREMENT; PostgreSQL's
    sequences never do): a client may still hold a deleted row's id, in an offline queue
    of writes or a sync token naming a list's record, and must not reach a newer row
    through it. Every table whose key is `id`; migration b9d0e2f4a6c8 does the same."""
    for table in metadata.tables.values():
        if [column.name for column in table.primary_key] == ["id"]:
            table.dialect_kwargs["sqlite_autoincrement"] = True
