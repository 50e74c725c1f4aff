"""Checks and headers that apply to every request, before and after any resource runs."""

import logging
import re
import time
import uuid

from flask import current_app, g, request
from werkzeug.exceptions import BadRequest, RequestEntityTooLarge, UnsupportedMediaType

from api.plumbing import metrics

REQUEST_ID_HEADER = "X-Request-ID"
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
access_log = logging.getLogger("api.access")


def check_body() -> None:
    """A POST, PUT or PATCH body must be JSON and within `MAX_CONTENT_LENGTH` (or the
    setting its resource's `body_limit` names).

    Checked for every such request, whether or not its resource reads the body, so the
    answer does not depend on the route. Raises 413 or 415.
    """
    if request.method not in BODY_METHODS:
        return
    # A resource may allow a larger body: its `body_limit` names the setting.
    view = current_app.view_functions.get(request.endpoint or "")
    setting = getattr(getattr(view, "view_class", None), "body_limit", None)
    if setting is not None:
        request.max_content_length = current_app.config[setting]
    limit = request.max_content_length
    if limit is not None and (request.content_length or 0) > limit:
        raise RequestEntityTooLarge()
    if _has_body() and not request.is_json:
        raise UnsupportedMediaType(
            "The request body must be JSON (Content-Type: application/json)."
        )


def refuse_nul() -> None:
    """400 for a NUL character in a header, a query argument or Basic credentials.

    NUL is never valid in an HTTP field value (RFC 9110), and PostgreSQL cannot store
    it, so it is refused the same way on every database. JSON bodies are checked as
    they are parsed (`api.plumbing.bodies`).
    """
    texts = [value for _, value in request.headers.items()]
    texts += (text for pair in request.args.items(multi=True) for text in pair)
    credentials = request.authorization
    if credentials is not None and credentials.type == "basic":
        texts += (credentials.username or "", credentials.password or "")
    if any("\x00" in text for text in texts):
        raise BadRequest("Headers, query arguments and credentials must not contain NUL.")


def _has_body() -> bool:
    return bool(request.content_length) or "chunked" in request.headers.get("Transfer-Encoding", "")


def start_request() -> None:
    """Take the client's request id (when it is sane) or make one; start the clock."""
    # `g` belongs to the app context, which can outlive one request (a test's, a shell's):
    # what was learnt of the last request's credentials must not carry over.
    g.pop("authentication", None)
    g.started = time.perf_counter()
    given = request.headers.get(REQUEST_ID_HEADER, "")
    g.request_id = given if _VALID_REQUEST_ID.match(given) else uuid.uuid4().hex


def finish_request(response):
    """Echo the request id, forbid content sniffing, write the access log line and count
    the request in the metrics."""
    request_id = g.get("request_id")
    if request_id:
        response.headers[REQUEST_ID_HEADER] = request_id
    response.headers["X-Content-Type-Options"] = "nosniff"
    started = g.get("started")
    if started is not None:
        seconds = time.perf_counter() - started
        log_access(response, request_id, seconds)
        metrics.observe(response, seconds)
    return response


def log_access(response, request_id: str | None, seconds: float) -> None:
    """The request's access log line; its fields also go to the JSON log format."""
    authentication = g.get("authentication")
    credential = authentication.credential if authentication else None
    fields = {
        "request_id": request_id,
        "user_id": credential.user.id if credential else None,
        "method": request.method,
        "path": request.path,
        "status": response.status_code,
        "duration_ms": round(seconds * 1000, 2),
    }
    access_log.info("%s %s %s", request.method, request.path, response.status_code, extra=fields)
