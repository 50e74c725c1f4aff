"""Request bodies: only the fields a client may set are ever applied."""

import copy
from typing import NamedTuple

from flask import request
from flask_restx import fields as restx_fields

from api.urls import ResourceUrl
from models import db


def partial(ns, model, name: str):
    """The same fields as `model`, none required: the body of a JSON merge patch."""
    fields = {}
    for key, field in model.items():
        field = copy.copy(field)
        field.required = False
        field.default = None
        fields[key] = field
    return ns.model(name, fields)


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
            "id": restx_fields.Integer(readonly=True),
            "created_at": restx_fields.DateTime(readonly=True),
            "updated_at": restx_fields.DateTime(readonly=True),
            "uri": uri,
            **read_only,
        },
    )
    return Models(given, partial(ns, given, f"{name}Patch"), output)


def text(max_length: int, example: str, required: bool = False):
    """A text field; a required one must hold a non-blank character."""
    if required:
        return restx_fields.String(
            required=True, min_length=1, max_length=max_length, pattern=r"\S", example=example
        )
    return restx_fields.String(max_length=max_length, default="", example=example)


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
    """Apply a validated body (see `payload`) to `row`, commit, and return the row."""
    row.update(data)
    db.session.commit()
    return row


def save_new(row, url: ResourceUrl) -> tuple:
    """Insert `row`, commit, and answer 201 with its `Location` (the same URL as its `uri`)."""
    db.session.add(row)
    db.session.commit()
    return row, 201, {"Location": url.output("uri", row)}
