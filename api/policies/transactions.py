"""How a request's session meets the database: reads without a transaction on a server,
writes in one transaction that takes its locks first.

* `read_connection()` is the session's connection for a request's first read. On
  PostgreSQL a GET or HEAD gets it in autocommit mode: each statement sees what is
  committed, as it would in the READ COMMITTED transaction the session opens otherwise,
  without that transaction's BEGIN and ROLLBACK (two round trips of a GET's five; 8-22% of
  one todo in process). The pool resets the mode when the connection goes back; SQLite
  keeps its default, which costs it nothing to begin.
* `end_reading` (a teardown hook) gives such a connection back as the request ends, for
  sessions that outlive a request (a test's, a shell's).
* `begin_writing()` starts a write's transaction as a writer.
"""

import contextlib

from flask import request
from sqlalchemy.exc import SQLAlchemyError

from models import db
from models.base import begin_writing as models_begin_writing

READS = frozenset({"GET", "HEAD"})
AUTOCOMMIT = "AUTOCOMMIT"


def reads_in_autocommit() -> bool:
    return request.method in READS and db.engine.dialect.name != "sqlite"


def read_connection():
    """The session's connection, in autocommit mode for a read on a database server.

    A session already in a transaction (one that outlives a request) keeps it: the read
    takes part in it.
    """
    if reads_in_autocommit() and not db.session().in_transaction():
        return db.session.connection(execution_options={"isolation_level": AUTOCOMMIT})
    return db.session.connection()


def end_reading(error: BaseException | None = None) -> None:
    """A teardown hook: a read in autocommit mode gives its connection back now."""
    if not (reads_in_autocommit() and db.session().in_transaction()):
        return
    # A teardown must not raise: the database may be what failed the request.
    with contextlib.suppress(SQLAlchemyError):
        options = db.session.connection().get_execution_options()
        if options.get("isolation_level") == AUTOCOMMIT:
            db.session.rollback()


def begin_writing() -> None:
    """Start the request's transaction as a writer (`models.base.begin_writing`)."""
    models_begin_writing(db.session)
