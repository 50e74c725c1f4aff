"""The base of every resource: one transaction per write, and the headers every write documents.

A write's handler only adds, changes and deletes rows (flushing when it needs ids or
timestamps for its response); `dispatch_request` commits once, after the handler has
returned. A POST that is made idempotent (`api.policies.idempotency`) stores its response
in that same transaction, so what it created and what a retry replays land together or
not at all.
"""

from collections.abc import Callable
from functools import partial

import flask_restx
from flask import request

from api.plumbing.errors import error_model
from api.policies.conditional import IF_MATCH, IF_NONE_MATCH, NOT_MODIFIED, STALE
from models import db

WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
TOO_MANY_REQUESTS = (
    "Too many requests: see Retry-After, RateLimit, RateLimit-Policy and X-RateLimit-*"
)


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
        """Run the handler of the request's method; a write commits once it has returned.

        Returns what the handler returned (marshalled by its decorators); on an error
        nothing the handler wrote is committed.
        """
        handler = partial(super().dispatch_request, *args, **kwargs)
        if request.method not in WRITES:
            return handler()
        try:
            result = self.write(handler)
            db.session.commit()
        except BaseException:
            db.session.rollback()
            raise
        return result

    def write(self, handler: Callable):
        """Run a write's `handler` and return its result, uncommitted.

        `ProtectedResource` makes POSTs idempotent here.
        """
        return handler()
