"""The database connection a request reads plain rows on."""

from flask import g, request
from sqlalchemy import Connection, Engine

from api.caches import BoundedCache
from models import db

# Methods that never write.
READ_ONLY = frozenset({"GET", "HEAD", "OPTIONS"})

_read_engines = BoundedCache(8)


def read_connection() -> Connection:
    """The connection this request reads on.

    A request that may write reads through its ORM session's connection, so that what
    it checks first (the credential, an `If-Match`) and what it writes share one
    transaction. A GET or HEAD takes a connection of its own from the engine's pool
    instead, given back as the request ends (`release_read_connection`): setting up and
    closing the session would cost more than the queries of most reads.
    """
    if request.method not in READ_ONLY:
        return db.session.connection()
    connection = g.get("read_connection")
    if connection is None:
        engine = db.engine
        connection = g.read_connection = _read_engines.get(
            id(engine), lambda: _reading(engine), pin=engine
        ).connect()
    return connection


def _reading(engine: Engine) -> Engine:
    """`engine`, or its autocommit twin on a database server.

    A server's reads in autocommit mode need no BEGIN and no ROLLBACK, two of a GET's
    five round trips to PostgreSQL; each statement still sees one snapshot, as in a
    READ COMMITTED transaction. SQLite has no round trips to save, and switching modes
    costs more than it saves there.
    """
    if engine.dialect.name == "sqlite":
        return engine
    return engine.execution_options(isolation_level="AUTOCOMMIT")


def release_read_connection(error: BaseException | None = None) -> None:
    connection = g.pop("read_connection", None)
    if connection is not None:
        connection.close()
