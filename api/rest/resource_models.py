"""The models of a resource and its fields: what a client may send, and what it gets back.

Only the fields a client may set are ever applied from a body (`payload`,
`merge_patch`): `id`, the owner, timestamps and `uri` are the server's. Date-times are
taken only as RFC 3339, with their offset (`read_value`).
"""

import copy
from datetime import UTC, datetime
from typing import NamedTuple

from flask import request, url_for
from flask_restx import abort, fields

from models import db

INVALID_BODY = "Input payload validation failed"


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


class NameList(fields.List):
    """A list of strings shown from related rows' `name`s (a todo's tags)."""

    def format(self, value):
        return super().format([row.name for row in value])


def partial(ns, model, name: str):
    """The same fields as `model`, none required: the body of a JSON merge patch
    (RFC 7396). A field that `model` does not require is `nullable`, unless it says
    `nullable=False` (a flag): null resets it to its default (`merge_patch`)."""
    optional = {}
    for key, field in model.items():
        field = copy.copy(field)
        field.nullable = not field.required and field.nullable is not False
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


def task_fields() -> dict:
    """The read-only fields of a row that is ticked off and ordered by hand (a todo, an
    item: `models.base`'s `Completable` and `Ordered`)."""
    return {
        "completed_at": fields.DateTime(
            readonly=True,
            nullable=True,
            description="When it was last marked done; null while it is open",
        ),
        "position": fields.String(
            readonly=True, description="Its place in the manual order (sort=position), opaque"
        ),
    }


# A character that is not blank, spelled out so that Python's `re` (which checks bodies)
# and ECMA-262 (the dialect of the spec's patterns) agree: `\s` differs between them.
NOT_BLANK = (
    r"[^\t\n\v\f\r \x1c-\x1f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]"
)


def text(max_length: int, example: str, required: bool = False):
    """A text field; a required one must hold a non-blank character."""
    if required:
        return fields.String(
            required=True, min_length=1, max_length=max_length, pattern=NOT_BLANK, example=example
        )
    return fields.String(max_length=max_length, default="", example=example)


def default_of(field):
    """What a field the client leaves out (or, in a merge patch, sets to null) becomes."""
    default = field.default
    return default() if callable(default) else default


DATE_TIME_RULE = (
    "must be an RFC 3339 date-time with an offset, in the years 1 to 9999 once in UTC, "
    "e.g. 2026-12-24T18:00:00Z"
)


def date_time(value: str) -> datetime:
    """An RFC 3339 date-time (the `date-time` format of JSON Schema), which carries its
    offset, in UTC; ValueError for anything else (a bare date, no offset, no `T`)."""
    text = value.upper() if isinstance(value, str) else ""
    parsed = datetime.fromisoformat(text) if "T" in text else None
    if parsed is None or parsed.tzinfo is None:
        raise ValueError(DATE_TIME_RULE)
    try:
        return parsed.astimezone(UTC)
    except OverflowError:  # e.g. 9999-12-31T23:00:00-02:00, past the last UTC year
        raise ValueError(DATE_TIME_RULE) from None


date_time.__schema__ = {"type": "string", "format": "date-time"}  # as a query argument


def read_value(key: str, field, value):
    """A validated body's `value` for `field` as the model stores it: a date-time is
    parsed by `date_time` (400 naming `key` when it is not one)."""
    if value is None or not isinstance(field, fields.DateTime):
        return value
    try:
        return date_time(value)
    except ValueError:
        abort(400, INVALID_BODY, errors={key: DATE_TIME_RULE[0].upper() + DATE_TIME_RULE[1:] + "."})


def body_of(model) -> dict:
    """The request's JSON object, validated against `model`: 415 for a body that is not
    JSON, 400 for one that is not valid JSON or not an object, and a 400 naming each field
    that breaks its rules. `null` passes only for a field that is `nullable`.
    """
    body = request.get_json()
    if not isinstance(body, dict):
        abort(400, INVALID_BODY, errors={"body": "Must be a JSON object."})
    refused = {
        key: "This field cannot be null."
        for key, value in body.items()
        if value is None and key in model and not model[key].nullable
    }
    if refused:
        abort(400, INVALID_BODY, errors=refused)
    model.validate({key: value for key, value in body.items() if value is not None})
    return body


def payload(model, *, replace: bool = False) -> dict:
    """The validated body (`body_of`), restricted to `model`'s fields.

    With `replace` (POST, PUT) a field the body leaves out takes its default, so a
    full replace resets what it does not mention; so does a nullable field set to null.
    """
    body = body_of(model)
    data = {}
    for key, field in model.items():
        if key in body and body[key] is not None:
            data[key] = read_value(key, field, body[key])
        elif key in body or (replace and not field.required):
            data[key] = default_of(field)
    return data


def merge_patch(model, defaults: dict) -> dict:
    """The body of a JSON merge patch (RFC 7396) of `model` (see `partial`), validated
    and restricted to its fields: a member set to null resets a nullable field to its
    default in `defaults` (the full model's fields), and is a 400 naming a field that
    cannot be null.
    """
    body = body_of(model)
    data = {}
    for key, field in model.items():
        if key in body:
            value = default_of(defaults[key]) if body[key] is None else body[key]
            data[key] = read_value(key, field, value)
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
