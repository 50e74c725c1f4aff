"""Checks and headers that apply to every request, before any resource runs."""

import logging
import re
import time
import uuid

from flask import g, request
from werkzeug.exceptions import BadRequest, RequestEntityTooLarge, UnsupportedMediaType

REQUEST_ID_HEADER = "X-Request-ID"
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
access_log = logging.getLogger("api.access")
_ENVIRON_KEYS: dict[str, str] = {}


def header(name: str, default: str | None = None) -> str | None:
    """The request's `name` header (not Content-Type or Content-Length), or `default`.

    Read from the WSGI environ: `request.headers.get` raises and catches a KeyError for
    each header a request does not send, and most do not send most of the optional ones.
    """
    key = _ENVIRON_KEYS.get(name)
    if key is None:
        key = _ENVIRON_KEYS[name] = "HTTP_" + name.upper().replace("-", "_")
    return request.environ.get(key, default)


def check_body():
    """A POST, PUT or PATCH body must be JSON and within `MAX_CONTENT_LENGTH`.

    Checked for every such request, whether or not its resource reads the body, so the
    answer does not depend on the route.
    """
    if request.method not in ("POST", "PUT", "PATCH"):
        return
    limit = request.max_content_length
    if limit is not None and (request.content_length or 0) > limit:
        raise RequestEntityTooLarge()
    if _has_body() and not request.is_json:
        raise UnsupportedMediaType(
            "The request body must be JSON (Content-Type: application/json)."
        )


def refuse_nul():
    """No NUL character in a header, a query argument or Basic credentials.

    NUL is never valid in an HTTP field value (RFC 9110), and PostgreSQL cannot store
    it, so it is refused the same way on every database. JSON bodies are checked as
    they are parsed (`api.representation`). The raw request is scanned first; arguments
    and credentials are decoded only when they could hold one.
    """
    environ = request.environ
    texts = [
        value
        for key, value in environ.items()
        if key.startswith("HTTP_") or key in ("CONTENT_TYPE", "CONTENT_LENGTH")
    ]
    query = environ.get("QUERY_STRING", "")
    if "%00" in query or "\x00" in query:
        texts += (text for pair in request.args.items(multi=True) for text in pair)
    basic = environ.get("HTTP_AUTHORIZATION", "").lstrip()[:6].lower() == "basic "
    if basic and request.authorization:
        texts += (request.authorization.username or "", request.authorization.password or "")
    if any("\x00" in text for text in texts if isinstance(text, str)):
        raise BadRequest("Headers, query arguments and credentials must not contain NUL.")


def _has_body() -> bool:
    return bool(request.content_length) or "chunked" in header("Transfer-Encoding", "")


def start_request():
    """Take the client's request id (when it is sane) or make one."""
    context = g._get_current_object()
    context.started = time.perf_counter()
    given = header(REQUEST_ID_HEADER, "")
    context.request_id = given if _VALID_REQUEST_ID.match(given) else uuid.uuid4().hex


def finish_request(response):
    context = g._get_current_object()
    request_id = context.get("request_id")
    headers = response.headers
    if request_id:
        headers[REQUEST_ID_HEADER] = request_id
    headers["X-Content-Type-Options"] = "nosniff"
    started = context.get("started")
    if started is not None and access_log.isEnabledFor(logging.INFO):
        log_access(response, request_id, started, context.get("credential"))
    return response


def log_access(response, request_id: str | None, started: float, credential) -> None:
    """The request's access log line; its fields also go to the JSON log format."""
    req = request._get_current_object()
    method, path, status = req.method, req.path, response.status_code
    fields = {
        "request_id": request_id,
        "user_id": credential.user.id if credential else None,
        "method": method,
        "path": path,
        "status": status,
        "duration_ms": round((time.perf_counter() - started) * 1000, 2),
    }
    # The record is made here: `Logger.info` would also walk the stack to find the
    # caller, which no format of the API shows, on every request.
    record = access_log.makeRecord(
        access_log.name,
        logging.INFO,
        __file__,
        0,
        "%s %s %s",
        (method, path, status),
        None,
        extra=fields,
    )
    access_log.handle(record)
