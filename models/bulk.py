"""Rows in bulk: many rows of one table in few statements, inside the caller's transaction.

Into the table with SQLAlchemy Core, not through the mapped class: an executemany skips
the ORM's per-row work, so neither its defaults nor its events (`models.sync`) apply, and
every column is spelled out by the caller. On PostgreSQL rows go in with one `COPY` per
batch.
"""

import itertools
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime

from psycopg import sql
from sqlalchemy import Table, func, insert, select
from sqlalchemy.orm import Session

BATCH_SIZE = 10_000


def batches(rows: Iterable, size: int) -> Iterator[list]:
    """`rows` in lists of `size` (the last one shorter)."""
    rows = iter(rows)
    while batch := list(itertools.islice(rows, size)):
        yield batch


def insert_rows(
    session: Session,
    table: Table,
    rows: Iterable[dict],
    *,
    return_ids: bool = False,
    progress: Callable[[int], None] = lambda rows: None,
    batch_size: int = BATCH_SIZE,
) -> list[int]:
    """Insert `rows` (dicts with the same keys) in batches of `batch_size`, reporting each
    batch's length to `progress`; with `return_ids`, the new ids in the order of `rows`.
    Nothing is committed."""
    if session.get_bind().dialect.name == "postgresql":
        return _copy(session, table, rows, return_ids, progress, batch_size)
    statement = insert(table)
    if return_ids:
        statement = statement.returning(table.c.id, sort_by_parameter_order=True)
    ids = []
    for batch in batches(rows, batch_size):
        result = session.execute(statement, batch)
        if return_ids:
            ids.extend(result.scalars())
        progress(len(batch))
    return ids


def _copy(session: Session, table: Table, rows, return_ids, progress, batch_size) -> list[int]:
    """PostgreSQL: each batch in one `COPY`, which runs the count triggers once; with
    `return_ids`, the batch's ids are drawn from the table's sequence first and copied in.

    psycopg's executemany sends one INSERT per row, and the triggers that keep the counts
    (models.counts) would update the parent row once per row; SQLAlchemy's multi-row
    INSERT ... RETURNING is parsed again by psycopg for every batch (half of an import's
    time at 100,000 todos). `COPY` takes values as they are, so a date-time goes as the
    columns store it, naive UTC, and the columns' Python-side defaults are applied here.
    """
    connection = session.connection().connection.driver_connection
    sequence = func.pg_get_serial_sequence(table.name, "id")
    ids = []
    for batch in batches(rows, batch_size):
        if return_ids:
            drawn = session.scalars(
                select(func.nextval(sequence)).select_from(func.generate_series(1, len(batch)))
            ).all()
            batch = [{"id": id, **row} for id, row in zip(drawn, batch, strict=True)]
            ids.extend(drawn)
        defaults = _python_defaults(table, batch[0])
        if defaults:
            batch = [{**{k: default() for k, default in defaults.items()}, **row} for row in batch]
        columns = list(batch[0])
        statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
            sql.Identifier(table.name), sql.SQL(", ").join(map(sql.Identifier, columns))
        )
        with connection.cursor() as cursor, cursor.copy(statement) as copy:
            for row in batch:
                copy.write_row([_stored(row[column]) for column in columns])
        progress(len(batch))
    return ids


def _python_defaults(table: Table, row: dict) -> dict:
    """The Python-side defaults (`Column(default=...)`) of the columns `row` leaves out, as
    functions of no argument: an INSERT applies them, `COPY` only the database's own."""
    found = {}
    for column in table.columns:
        default = column.default
        if column.key in row or default is None or not (default.is_scalar or default.is_callable):
            continue
        if default.is_scalar:
            found[column.key] = lambda value=default.arg: value
        else:
            found[column.key] = lambda function=default.arg: function(None)
    return found


def _stored(value):
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    return value
