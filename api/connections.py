"""Reads: the prebuilt SELECTs a request runs to show rows, and the connection they run on.

Every read statement is built once (`api.auth`, `api.ownership`, `api.pagination`,
`api.masks`) with bound parameters, so a request only binds values. A GET or HEAD runs
them straight on a pooled DBAPI connection of its own: each statement is compiled once
per dialect, and its values and columns go through SQLAlchemy's own type processors,
but none of SQLAlchemy's per-execution steps (execution context, result metadata,
`Row` objects), which cost five times what the query does on SQLite. A request that may
write reads through its ORM session instead, so that what it checks first (the
credential, an `If-Match`) and what it writes share one transaction.

While anything listens to the engine's statement events (`before_cursor_execute`,
`after_cursor_execute`: instrumentation, tracing), reads go through SQLAlchemy's own
execution, so every statement is seen.
"""

from collections.abc import Sequence
from typing import NamedTuple

from flask import g, request
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

from api.caches import BoundedCache
from models import db

# Methods that never write.
READ_ONLY = frozenset({"GET", "HEAD", "OPTIONS"})

# Statements x dialects: a few dozen shapes in all.
_compiled = BoundedCache(1024)
_keys = BoundedCache(1024)
# Stands for a bound value the request gives.
_GIVEN = object()


def read(statement, params: dict) -> list[Sequence]:
    """The rows of a prebuilt `statement` with `params` bound, as sequences of values."""
    return _reader().rows(statement, params)


def read_dicts(statement, params: dict) -> list[dict]:
    """The same rows as dicts keyed by the statement's column keys."""
    keys = _keys.get(id(statement), lambda: tuple(statement.selected_columns.keys()), statement)
    return [dict(zip(keys, row, strict=True)) for row in read(statement, params)]


def _reader():
    context = g._get_current_object()
    reader = context.get("reader")
    if reader is None:
        engine = db.engine
        if request.method not in READ_ONLY:
            reader = SessionReads()
        elif engine.dispatch.before_cursor_execute or engine.dispatch.after_cursor_execute:
            reader = ConnectionReads(engine)
        else:
            reader = DriverReads(engine)
        context.reader = reader
    return reader


def release_read_connection(error: BaseException | None = None) -> None:
    reader = g.pop("reader", None)
    if reader is not None:
        reader.close()


class SessionReads:
    """Reads in the ORM session's transaction, for a request that may write."""

    def rows(self, statement, params: dict) -> list[Sequence]:
        return db.session.connection().execute(statement, params).all()

    def close(self) -> None:
        pass  # the session is the request's; Flask-SQLAlchemy removes it


class ConnectionReads:
    """Reads through SQLAlchemy's execution on a pooled connection, events and all."""

    def __init__(self, engine: Engine):
        self.connection = _autocommit(engine).connect()

    def rows(self, statement, params: dict) -> list[Sequence]:
        return self.connection.execute(statement, params).all()

    def close(self) -> None:
        self.connection.close()


_autocommit_engines = BoundedCache(8)


def _autocommit(engine: Engine) -> Engine:
    """`engine`, or its autocommit twin on a database server (see `DriverReads`)."""
    if not _on_server(engine.dialect):
        return engine
    return _autocommit_engines.get(
        id(engine), lambda: engine.execution_options(isolation_level="AUTOCOMMIT"), pin=engine
    )


def _on_server(dialect) -> bool:
    return dialect.name != "sqlite"


class Compiled(NamedTuple):
    """A statement compiled for one dialect, with the processors of its values."""

    sql: str
    # (name in the SQL, key in the parameters, processor or None, value when the
    # statement holds one), in the order the driver takes them.
    binds: tuple[tuple[str, str, object, object], ...]
    positional: bool
    # (column index, processor) of each column whose raw value needs converting.
    columns: tuple[tuple[int, object], ...]


def compile_for(statement, dialect) -> Compiled:
    """`statement` compiled once for `dialect`."""

    def build() -> Compiled:
        compiled = statement.compile(dialect=dialect)
        if "POSTCOMPILE" in compiled.string:
            raise ValueError(f"A read runs with fixed parameters, not expanding ones: {statement}")
        names = compiled.positiontup if compiled.positional else list(compiled.binds)
        binds = []
        for name in names:
            bind = compiled.binds[name]
            processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
            # A value written into the statement (a literal) rather than given per request.
            value = _GIVEN if bind.required else bind.effective_value
            binds.append((name, bind.key, processor, value))
        columns = []
        for index, column in enumerate(statement.selected_columns):
            processor = column.type.dialect_impl(dialect).result_processor(dialect, None)
            if processor is not None:
                columns.append((index, processor))
        return Compiled(compiled.string, tuple(binds), compiled.positional, tuple(columns))

    return _compiled.get((id(statement), dialect.name), build, pin=statement)


class DriverReads:
    """Reads on a pooled DBAPI connection, for a GET or HEAD.

    On a database server the connection reads in autocommit mode: no BEGIN and no
    ROLLBACK, two of a GET's five round trips to PostgreSQL, and each statement still
    sees the latest committed data, as in a READ COMMITTED transaction. It goes back to
    the pool in its usual mode. SQLite has no round trips to save.
    """

    def __init__(self, engine: Engine):
        self.dialect = dialect = engine.dialect
        try:
            self.connection = engine.raw_connection()
        except dialect.loaded_dbapi.Error as error:
            # What `engine.connect()` raises: SQLAlchemy's error, not the driver's.
            raise DBAPIError.instance(
                None, None, error, dialect.loaded_dbapi.Error, dialect=dialect
            ) from error
        self.autocommit = _on_server(dialect)
        if self.autocommit:
            self.dialect.set_isolation_level(self.connection.driver_connection, "AUTOCOMMIT")

    def rows(self, statement, params: dict) -> list[Sequence]:
        compiled = compile_for(statement, self.dialect)
        values = []
        for _, key, processor, value in compiled.binds:
            value = params[key] if value is _GIVEN else params.get(key, value)
            values.append(value if processor is None else processor(value))
        if not compiled.positional:
            values = {bind[0]: value for bind, value in zip(compiled.binds, values, strict=True)}
        cursor = self.connection.cursor()
        try:
            cursor.execute(compiled.sql, values)
            rows = cursor.fetchall()
        except self.dialect.loaded_dbapi.Error as error:
            raise self._failed(error, cursor, compiled.sql, values) from error
        finally:
            cursor.close()
        if compiled.columns:
            rows = [_converted(row, compiled.columns) for row in rows]
        return rows

    def _failed(self, error, cursor, sql: str, values) -> DBAPIError:
        """The driver's error as SQLAlchemy's (an `OperationalError` is a 503); a lost
        connection is dropped from the pool, as SQLAlchemy's own execution would."""
        lost = self.dialect.is_disconnect(error, self.connection.driver_connection, cursor)
        if lost:
            self.connection.invalidate(error)
        return DBAPIError.instance(
            sql,
            values,
            error,
            self.dialect.loaded_dbapi.Error,
            connection_invalidated=lost,
            dialect=self.dialect,
        )

    def close(self) -> None:
        connection = self.connection
        if self.autocommit and connection.is_valid:
            try:
                self.dialect.reset_isolation_level(connection.driver_connection)
            except self.dialect.loaded_dbapi.Error as error:
                connection.invalidate(error)
        connection.close()


def _converted(row: Sequence, columns: tuple) -> list:
    row = list(row)
    for index, processor in columns:
        row[index] = processor(row[index])
    return row
