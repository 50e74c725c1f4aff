"""JSON in and out, with orjson.

Request bodies are parsed strictly: no `NaN`, no lone surrogates, nothing nested
deeper than `MAX_DEPTH`, and no NUL character in any string (PostgreSQL cannot store
one, and no client needs one). A body that breaks a rule is a 400 that says which.
"""

from http import HTTPStatus

import orjson
from flask import Request, current_app
from flask.json.provider import DefaultJSONProvider
from werkzeug.exceptions import BadRequest
from werkzeug.wsgi import LimitedStream

# The API's own bodies are one level deep; this leaves room and stays far below
# Python's recursion limit, which deeper bodies would reach in validation and repr().
MAX_DEPTH = 32


def check_parsed(value) -> None:
    """ValueError unless `value` is nested at most MAX_DEPTH deep and free of NULs."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                raise ValueError("text must not contain NUL characters")
        elif isinstance(item, dict | list):
            if depth > MAX_DEPTH:
                raise ValueError(f"nested deeper than {MAX_DEPTH} levels")
            children = [*item.keys(), *item.values()] if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)


class JsonProvider(DefaultJSONProvider):
    def loads(self, s, **kwargs):
        value = orjson.loads(s)
        check_parsed(value)
        return value


class ApiRequest(Request):
    def get_data(self, *args, **kwargs):
        """The body; 413 for a streamed (chunked) body longer than `MAX_CONTENT_LENGTH`.

        Werkzeug stops reading such a body at the limit; whether more follows shows only
        on a further read, which its stream answers with 413. Without that read, a body
        padded past the limit would be parsed from its first megabyte.
        """
        data = super().get_data(*args, **kwargs)
        stream = self.stream
        streamed = self.content_length is None and isinstance(stream, LimitedStream)
        if streamed and stream.is_exhausted:
            stream.read(1)  # raises RequestEntityTooLarge
        return data

    def on_json_loading_failed(self, e):
        if e is None:
            # Not JSON at all: Flask's own 415.
            return super().on_json_loading_failed(e)
        raise BadRequest(f"The body is not valid JSON: {e}")


JSON = "application/json"
PROBLEM = "application/problem+json"


def problem(body: dict, status: int) -> dict:
    """An error body as RFC 9457 problem details: `type`, `title`, `status` and `detail`,
    with `message` (the same text as `detail`) and any `errors` kept for older clients."""
    title = HTTPStatus(status).phrase
    message = body.get("message") or title
    return {"type": "about:blank", "title": title, "status": status, "detail": message, **body}


def output_json(data, code, headers=None):
    """The response of `data` as JSON; an error's as problem details (`problem`)."""
    mimetype = JSON
    if code >= 400 and isinstance(data, dict):
        data, mimetype = problem(data, code), PROBLEM
    body = orjson.dumps(data, option=orjson.OPT_APPEND_NEWLINE) if data is not None else b""
    return current_app.response_class(body, code, headers, mimetype=mimetype)
