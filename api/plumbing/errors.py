"""Every error is problem details (RFC 9457) with a `message`; no HTML page and no
traceback, ever.

`error_body` is the one answer to an exception that is not an HTTP error: the app's
handlers (outside the blueprint) and the `Api`'s (inside it) both use it, so a 500, a
503 or a 409 for a database conflict reads the same wherever it happens.
"""

import logging
import re
import sqlite3

import psycopg
from flask_restx import Model, fields
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import HTTPException

from api.plumbing.bodies import output_json

log = logging.getLogger(__name__)

# RFC 9457 problem details (`api.plumbing.bodies.problem`), as application/problem+json.
error_model = Model(
    "Error",
    {
        "type": fields.String(description="The problem type: about:blank, the status says it"),
        "title": fields.String(description="The status's reason phrase"),
        "status": fields.Integer(description="The HTTP status code"),
        "detail": fields.String(description="What went wrong, for this request"),
        "message": fields.String(required=True, description="The same text as detail"),
        "errors": fields.Raw(description="Per-field reasons, for validation errors"),
    },
)

DATABASE_UNAVAILABLE = "The database is unavailable; try again shortly."
CONFLICT = "The change collided with a concurrent one and was not made; retry it."
UNEXPECTED = "The server hit an unexpected error; it has been logged."
# PostgreSQL's serialization failure, deadlock and foreign key violation (the parent row
# deleted meanwhile), and SQLite's foreign key failure: the request can simply be retried.
RETRYABLE_SQLSTATES = frozenset({"40001", "40P01", "23503"})
SQLITE_FOREIGN_KEY = "SQLITE_CONSTRAINT_FOREIGNKEY"


# How much of a refused value an error message may quote.
QUOTED_MAX = 40


def quoted(value: str) -> str:
    """`value` in quotes, cut short: an error names what it refuses without echoing it all."""
    text = value if len(value) <= QUOTED_MAX else value[: QUOTED_MAX - 1] + "…"
    return repr(text)


def without_values(errors: dict, body) -> dict:
    """Per-field validation messages that do not repeat what was sent (a password, a
    megabyte of title): jsonschema starts a message with the value's repr, which becomes
    "The value"; any other long value quoted or named in a message is cut short."""
    cleaned = {}
    for key, message in errors.items():
        if isinstance(message, str):
            sent = _value_at(body, key)
            if sent is not _MISSING and message.startswith(repr(sent)):
                message = "The value" + message[len(repr(sent)) :]
            message = _LONG_QUOTE.sub(lambda found: quoted(found[1]), message)
            message = _LONG_WORD.sub(lambda found: found[0][: QUOTED_MAX - 1] + "…", message)
        cleaned[key] = message
    return cleaned


_MISSING = object()
_LONG_QUOTE = re.compile("'([^']{" + str(QUOTED_MAX + 1) + ",})'")
_LONG_WORD = re.compile(r"\S{" + str(QUOTED_MAX + 1) + ",}")


def _value_at(body, key: str):
    """The value a dotted error key (`items.0.name`) names in the request body."""
    value = body
    for part in key.split("."):
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return _MISSING
    return value


def is_conflict(error: Exception) -> bool:
    """Whether `error` is a lost race a retry resolves, not a failure of the database:
    a row changed meanwhile, a deadlock or serialization failure, or a row written for a
    parent that a concurrent transaction deleted (an account deleted while one of its
    requests writes: the retry is refused its credential)."""
    if isinstance(error, StaleDataError):
        return True
    driver_error = driver_error_of(error)
    if getattr(driver_error, "sqlite_errorname", None) == SQLITE_FOREIGN_KEY:
        return True
    return getattr(driver_error, "sqlstate", None) in RETRYABLE_SQLSTATES


def driver_error_of(error: Exception) -> Exception | None:
    """The database driver's error behind `error`: the one SQLAlchemy wrapped, or `error`
    itself when the driver raised it directly (a `COPY`, models.bulk); else None."""
    if isinstance(error, DBAPIError):
        return error.orig
    return error if isinstance(error, sqlite3.Error | psycopg.Error) else None


def database_unavailable(error: Exception) -> bool:
    """Whether `error` says the database cannot be reached or used."""
    driver_error = driver_error_of(error)
    return isinstance(error, OperationalError) or isinstance(
        driver_error, sqlite3.OperationalError | psycopg.OperationalError
    )


def error_body(error: Exception) -> tuple[dict, int, dict]:
    """`(body, status, headers)` answering an exception that is not an HTTP error."""
    if is_conflict(error):
        log.info("Write conflict: %s", error)
        return {"message": CONFLICT}, 409, {"Retry-After": "1"}
    if database_unavailable(error):
        log.error("Database unavailable: %s", driver_error_of(error) or error)
        return {"message": DATABASE_UNAVAILABLE}, 503, {"Retry-After": "5"}
    log.error("Unhandled exception", exc_info=error)
    return {"message": UNEXPECTED}, 500, {}


def http_error(error: HTTPException):
    """An HTTP error raised outside the API's resources (unknown URLs, 405s, 413s)."""
    headers = {
        name: value
        for name, value in error.get_response().headers.items()
        if name.lower() not in ("content-type", "content-length")
    }
    return output_json({"message": error.description or error.name}, error.code or 500, headers)


def unexpected_error(error: Exception):
    """Any other exception outside the API's resources."""
    return output_json(*error_body(error))


def register_error_handlers(app) -> None:
    app.register_error_handler(HTTPException, http_error)
    app.register_error_handler(Exception, unexpected_error)
