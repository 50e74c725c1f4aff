"""Conditional requests: `ETag`, `If-None-Match` (304) and `If-Match` (412).

A representation's tag is a digest of the body the client receives, so it changes
exactly when what the client sees changes: the field mask, nested items and all. For a
list, the `X-Total-Count` and `Link` headers belong to the representation too.

`If-Match` is checked by the resource base class (`api.resource`) against the tag of
the target's current representation, and the write itself is guarded by the row's
version (`models.base.Versioned`), so a check that passes cannot be overtaken by
another writer before the write lands.
"""

import hashlib

from flask import request
from werkzeug.exceptions import PreconditionFailed

from api.requests import header

TAGGED_METHODS = frozenset({"GET", "HEAD", "PUT", "PATCH"})
REPRESENTATION_HEADERS = ("X-Total-Count", "Link")

IF_NONE_MATCH = {
    "in": "header",
    "type": "string",
    "description": "An ETag from an earlier response: 304 with no body while it is current.",
}
IF_MATCH = {
    "in": "header",
    "type": "string",
    "description": (
        "The ETag of the representation this change is based on (read with the same "
        "X-Fields mask), or `*`: 412 and no change unless it is still current."
    ),
}
NOT_MODIFIED = "Not modified: the ETag in If-None-Match is current"
STALE = "Precondition failed: the ETag in If-Match is not current"


def representation_tag(response) -> str:
    """The strong entity tag of a response's representation (without the quotes)."""
    digest = hashlib.blake2b(response.get_data(), digest_size=16)
    for name in REPRESENTATION_HEADERS:
        value = response.headers.get(name)
        if value is not None:
            digest.update(b"\0" + value.encode())
    return digest.hexdigest()


def tag_response(response):
    """Tag every 200 representation; answer a current `If-None-Match` with 304."""
    req = request._get_current_object()
    if (
        response.status_code != 200
        or req.method not in TAGGED_METHODS
        or response.direct_passthrough
        or response.is_streamed
    ):
        return response
    tag = representation_tag(response)
    response.set_etag(tag)
    if (
        req.method in ("GET", "HEAD")
        and header("If-None-Match") is not None
        and req.if_none_match.contains_weak(tag)
    ):
        response.status_code = 304
        response.data = b""
    return response


def check_if_match(current: str | None) -> None:
    """412 unless `If-Match` names `current` (strong comparison), or is `*` and it exists."""
    if current is None or not request.if_match.contains(current):
        raise PreconditionFailed(
            "The resource has changed since the ETag in If-Match was issued: "
            "fetch it again and retry the change."
        )
