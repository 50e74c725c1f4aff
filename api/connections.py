"""The database connection a request reads plain rows on."""

from flask import g, request
from sqlalchemy import Connection

from models import db

# Methods that never write.
READ_ONLY = frozenset({"GET", "HEAD", "OPTIONS"})


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
        connection = g.read_connection = db.engine.connect()
    return connection


def release_read_connection(error: BaseException | None = None) -> None:
    connection = g.pop("read_connection", None)
    if connection is not None:
        connection.close()
