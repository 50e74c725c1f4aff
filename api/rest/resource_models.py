"""The models of a resource and its fields: what a client may send, and what it gets back.

Only the fields a client may set are ever applied from a body (`payload`): `id`, the
owner, timestamps and `uri` are the server's.
"""

import copy
from typing import NamedTuple

from flask import request, url_for
from flask_restx import fields

from models import db


class ResourceUrl(fields.Url):
    """The absolute URL of a resource, built from named attributes of the row it shows.

    `ResourceUrl("api.bucketlist_item", id="bucket_id", item_id="id")` builds the item's
    URL from its `bucket_id` and `id`.
    """

    __schema_format__ = "uri"

    def __init__(self, endpoint: str, **arguments: str):
        super().__init__(endpoint, absolute=True, readonly=True)
        self.arguments = arguments or {"id": "id"}

    @property
    def depends_on(self) -> tuple[str, ...]:
        """The attributes the URL is built from, which a loader must load."""
        return tuple(self.arguments.values())

    def output(self, key, obj, **kwargs):
        values = {name: getattr(obj, attribute) for name, attribute in self.arguments.items()}
        return url_for(self.endpoint, _external=True, **values)


def partial(ns, model, name: str):
    """The same fields as `model`, none required: the body of a JSON merge patch."""
    optional = {}
    for key, field in model.items():
        field = copy.copy(field)
        field.required = False
        field.default = None
        optional[key] = field
    return ns.model(name, optional)


class Models(NamedTuple):
    """The three models of a resource: what a client sends, patches, and gets back."""

    input: dict
    patch: dict
    output: dict


def resource_models(ns, name: str, writable: dict, uri: ResourceUrl, **read_only) -> Models:
    """`<name>Input` of the `writable` fields, `<name>Patch` (none required), and `<name>`.

    The output adds what the server sets: `id`, the timestamps, the absolute `uri`, and
    any further `read_only` fields.
    """
    given = ns.model(f"{name}Input", writable)
    output = ns.clone(
        name,
        given,
        {
            "id": fields.Integer(readonly=True),
            "created_at": fields.DateTime(readonly=True),
            "updated_at": fields.DateTime(readonly=True),
            "uri": uri,
            **read_only,
        },
    )
    return Models(given, partial(ns, given, f"{name}Patch"), output)


def text(max_length: int, example: str, required: bool = False):
    """A text field; a required one must hold a non-blank character."""
    if required:
        return fields.String(
            required=True, min_length=1, max_length=max_length, pattern=r"\S", example=example
        )
    return fields.String(max_length=max_length, default="", example=example)


def payload(model, *, replace: bool = False) -> dict:
    """The validated body, restricted to `model`'s fields.

    With `replace` (POST, PUT) a field the body leaves out takes its default, so a
    full replace resets what it does not mention.
    """
    body = request.get_json(silent=True)
    body = body if isinstance(body, dict) else {}
    data = {}
    for key, field in model.items():
        if key in body:
            data[key] = body[key]
        elif replace and not field.required:
            data[key] = field.default
    return data


def save_changes(row, data: dict):
    """Apply a validated body (see `payload`) to `row` and flush; returns the row.

    The resource commits when the handler has returned (`api.rest.resource`).
    """
    row.update(data)
    db.session.flush()
    return row


def save_new(row, url: ResourceUrl) -> tuple:
    """Insert `row` and flush; `(row, 201, {"Location": its URL})` for the response."""
    db.session.add(row)
    db.session.flush()
    return row, 201, {"Location": url.output("uri", row)}
