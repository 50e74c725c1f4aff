"""Log lines that carry the request id, as text or as one JSON object per line."""

import logging
import re
import sys
from datetime import UTC, datetime

import orjson
from flask import g, has_request_context

_FIELDS = ("request_id", "user_id", "method", "path", "status", "duration_ms")


class RequestContextFilter(logging.Filter):
    def filter(self, record):
        if not getattr(record, "request_id", None):
            record.request_id = g.get("request_id", "-") if has_request_context() else "-"
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record):
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        line.update((name, getattr(record, name)) for name in _FIELDS if hasattr(record, name))
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(line).decode()


class StderrHandler(logging.StreamHandler):
    """Writes to whatever `sys.stderr` is at the time, not at start-up."""

    def __init__(self):
        super().__init__(sys.stderr)

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value):
        pass


TEXT_FORMAT = "%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s"
# C0 and C1 control characters: a newline or a terminal escape in a logged value (a URL
# path, a header) would forge a line of a text log or hide one.
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def escape_controls(text: str) -> str:
    """`text` with each control character written as a `\\xNN` escape."""
    return CONTROL.sub(lambda found: f"\\x{ord(found[0]):02x}", text)


class TextFormatter(logging.Formatter):
    """`TEXT_FORMAT`, one line per event: control characters in the message are escaped
    (a traceback still follows on lines of its own)."""

    def format(self, record):
        record = logging.makeLogRecord(record.__dict__)
        record.msg, record.args = escape_controls(record.getMessage()), None
        return super().format(record)


def configure_logging(app) -> None:
    handler = StderrHandler()
    handler.addFilter(RequestContextFilter())
    if app.config["LOG_FORMAT"] == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(TextFormatter(TEXT_FORMAT))
    for name in ("api", "flask-limiter", app.logger.name):
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        logger.setLevel(app.config["LOG_LEVEL"])
        logger.propagate = False
