"""Request bodies: only the fields a client may set are ever applied."""

import copy

from flask import request


def partial(ns, model, name: str):
    """The same fields as `model`, none required: the body of a JSON merge patch."""
    fields = {}
    for key, field in model.items():
        field = copy.copy(field)
        field.required = False
        field.default = None
        fields[key] = field
    return ns.model(name, fields)


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
