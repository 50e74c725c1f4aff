"""Rows in bulk: many rows of one table in few statements, inside the caller's transaction.

Into the table with SQLAlchemy Core, not through the mapped class: an executemany skips
the ORM's per-row work, so neither its defaults nor its events (`models.sync`) apply, and
every column is spelled out by the caller. On PostgreSQL rows whose ids are not needed go
in with one `COPY` per batch.
"""

import itertools
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime

from psycopg import sql
from sqlalchemy import Table, insert
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
    if not return_ids and session.get_bind().dialect.name == "postgresql":
        _copy(session, table, rows, progress, batch_size)
        return []
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


def _copy(session: Session, table: Table, rows, progress, batch_size: int) -> None:
    """PostgreSQL: each batch in one `COPY`, which runs the count triggers once.

    psycopg's executemany sends one INSERT per row, and the triggers that keep the counts
    (models.counts) would update the parent row once per row. `COPY` takes values as
    they are, so a date-time goes as the columns store it, naive UTC.
    """
    connection = session.connection().connection.driver_connection
    for batch in batches(rows, batch_size):
        columns = list(batch[0])
        statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
            sql.Identifier(table.name), sql.SQL(", ").join(map(sql.Identifier, columns))
        )
        with connection.cursor() as cursor, cursor.copy(statement) as copy:
            for row in batch:
                copy.write_row([_stored(row[column]) for column in columns])
        progress(len(batch))


def _stored(value):
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    return value
