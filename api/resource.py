"""The base of every resource: the HTTP semantics of writes, for every namespace.

* `PUT`, `PATCH` and `DELETE` with `If-Match` first render the target's current
  representation with the resource's own `get` (same mask) and compare tags; the
  write then only lands on the row versions that were compared (`api.concurrency`).
* A write without `If-Match` that loses a race to another writer is run again on the
  fresh row, so concurrent plain writes behave as "last one wins", never as an error.
* `POST` with `Idempotency-Key` runs at most once per key (`api.idempotency`).

The class also documents these headers and responses on every operation it serves.
"""

from functools import partial

import flask_restx
from flask import request
from flask_restx.utils import unpack
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import Conflict, PreconditionFailed
from werkzeug.wrappers import Response

from api.concurrency import versions_read, writes_only_to
from api.conditional import (
    IF_MATCH,
    IF_NONE_MATCH,
    NOT_MODIFIED,
    STALE,
    check_if_match,
    representation_tag,
)
from api.errors import error_model
from api.idempotency import idempotent
from api.requests import header
from models import db

WRITES = frozenset({"PUT", "PATCH", "DELETE"})
# Unconditional writes that keep losing races give up after this many tries.
WRITE_ATTEMPTS = 5
TOO_MANY_REQUESTS = "Too many requests: see Retry-After and the X-RateLimit-* headers"


def _conditional_write() -> dict:
    return {"params": {"If-Match": IF_MATCH}, "responses": {"412": (STALE, error_model)}}


class Resource(flask_restx.Resource):
    __apidoc__ = {
        "responses": {"429": (TOO_MANY_REQUESTS, error_model)},
        "get": {
            "params": {"If-None-Match": IF_NONE_MATCH},
            "responses": {"304": (NOT_MODIFIED, None)},
        },
        "put": _conditional_write(),
        "patch": _conditional_write(),
        "delete": _conditional_write(),
    }

    # The POST response shows a secret once; it is never stored for replays.
    secret_response = False

    def dispatch_request(self, *args, **kwargs):
        dispatch = partial(super().dispatch_request, *args, **kwargs)
        method = request.method
        if method == "POST":
            return idempotent(dispatch, secret=self.secret_response)
        if method not in WRITES:
            return dispatch()
        if header("If-Match") is not None:
            session = db.session()
            with versions_read(session) as read:
                check_if_match(self.current_tag(*args, **kwargs))
            try:
                with writes_only_to(session, read):
                    return dispatch()
            except StaleDataError:
                db.session.rollback()
                raise PreconditionFailed(
                    "The resource changed while this change was being made: "
                    "fetch it again and retry the change."
                ) from None
        for _ in range(WRITE_ATTEMPTS):
            try:
                return dispatch()
            except StaleDataError:
                db.session.rollback()
        raise Conflict("The resource kept changing while this change was being made; retry.")

    def current_tag(self, *args, **kwargs) -> str | None:
        """The ETag a GET of this resource would carry now, or None without one."""
        get = getattr(self, "get", None)
        if get is None:
            return None
        result = get(*args, **kwargs)
        if not isinstance(result, Response):
            result = self.api.make_response(*unpack(result))
        return representation_tag(result) if result.status_code == 200 else None
