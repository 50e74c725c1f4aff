"""Every error is a JSON body with a `message`; no HTML page and no traceback, ever."""

import logging

from flask import jsonify
from flask_restx import Model, fields
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException, ServiceUnavailable

log = logging.getLogger(__name__)

error_model = Model(
    "Error",
    {
        "message": fields.String(required=True, description="What went wrong"),
        "errors": fields.Raw(description="Per-field reasons, for validation errors"),
    },
)

DATABASE_UNAVAILABLE = "The database is unavailable; try again shortly."


def http_error(error: HTTPException):
    """An HTTP error raised outside the API's resources (unknown URLs, 405s, 413s)."""
    response = jsonify(message=error.description or error.name)
    response.status_code = error.code or 500
    for name, value in error.get_response().headers.items():
        if name.lower() not in ("content-type", "content-length"):
            response.headers[name] = value
    return response


def unexpected_error(error: Exception):
    """Anything else: logged with its traceback, answered without one."""
    if isinstance(error, OperationalError):
        return database_unavailable(error)
    log.exception("Unhandled exception")
    response = jsonify(message="The server hit an unexpected error; it has been logged.")
    response.status_code = 500
    return response


def database_unavailable(error: OperationalError):
    log.error("Database unavailable: %s", error.orig or error)
    response = jsonify(message=DATABASE_UNAVAILABLE)
    response.status_code = ServiceUnavailable.code
    response.headers["Retry-After"] = "5"
    return response


def register_error_handlers(app) -> None:
    app.register_error_handler(HTTPException, http_error)
    app.register_error_handler(Exception, unexpected_error)
