"""Conditional requests: `ETag`, `If-None-Match` (304) and `If-Match` (412).

A representation's tag is a digest of the body the client receives, so it changes
exactly when what the client sees changes: the field mask, nested items and all. For a
list, the `X-Total-Count` and `Link` headers belong to the representation too.

A write with `If-Match` loads its target with a row lock (`api.policies.loaders`), renders
it as a GET would (`check_if_match`), and writes only if the tags agree: nobody can change
the row between the check and the write.
"""

import hashlib

from flask import request
from flask_restx import marshal
from werkzeug.exceptions import PreconditionFailed

from api.plumbing.bodies import output_json

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
    if (
        response.status_code != 200
        or request.method not in TAGGED_METHODS
        or response.direct_passthrough
        or response.is_streamed
    ):
        return response
    tag = representation_tag(response)
    response.set_etag(tag)
    if request.method in ("GET", "HEAD") and request.if_none_match.contains_weak(tag):
        response.status_code = 304
        response.data = b""
    return response


def check_if_match(row, fields: dict) -> None:
    """412 unless the write's preconditions hold for `row`, which exists: `If-Match` (when
    sent) names the tag a GET of `row` shows with `fields` (`*` matches any existing row),
    and there is no `If-None-Match: *` (write only if there is no such resource).

    `row` must be loaded with its lock, so that the representation cannot change before
    the write that follows lands.
    """
    if request.if_none_match.star_tag:
        raise PreconditionFailed(
            "The resource exists, and If-None-Match: * asks to write only when it does not."
        )
    if "If-Match" not in request.headers:
        return
    current = representation_tag(output_json(marshal(row, fields), 200))
    if not request.if_match.contains(current):
        raise PreconditionFailed(
            "The resource has changed since the ETag in If-Match was issued: "
            "fetch it again and retry the change."
        )
