"""Marshalling compiled once per (masked) model: Flask-RESTX's output, without its per-value cost.

`flask_restx.marshal` looks every field up, formats it through several calls and builds
an OrderedDict, for every object. Here each model is turned once into a tuple of steps
(attribute, conversion, default), so a page of rows costs little more than reading their
attributes. Field types
it does not know fall back to the field's own `output`, so the result is always the one
Flask-RESTX would give.
"""

from collections.abc import Callable
from datetime import datetime
from functools import partial

from flask_restx import fields

from api.caches import BoundedCache

_compiled = BoundedCache(1024)


def marshaller(model: dict) -> Callable:
    """A function that marshals one object with `model` in the current request.

    The model is compiled once and cached; fields whose output depends on the request
    (a resource's absolute URL holds the host) are bound once per request root, not
    once per request or per object.
    """
    return _compiled.get(id(model), lambda: _compile_model(model), pin=model)()


def marshal(data, model: dict):
    """`flask_restx.marshal(data, model)` for an object or a list of them."""
    one = marshaller(model)
    if isinstance(data, list | tuple):
        return [one(item) for item in data]
    return one(data)


class _PerRequest:
    """A field's getter that depends on the request: `bind()` makes it, and requests
    with the same `key()` get the same one."""

    __slots__ = ("bind", "key")

    def __init__(self, bind: Callable[[], Callable], key: Callable[[], str]):
        self.bind = bind
        self.key = key


# A compiled field: (name, attribute, convert, default). With an attribute, the value is
# read from the object, `default` stands for None and `convert` (if any) formats the rest;
# without one, `convert(obj)` makes the value from the whole object.
Step = tuple[str, str | None, Callable | None, object]


def _compile_model(model: dict) -> Callable[[], Callable]:
    """A function that returns the marshaller of `model`, bound to the current request."""
    model = getattr(model, "resolved", model)
    steps = tuple(_compile_field(name, field) for name, field in model.items())

    if not any(isinstance(step[2], _PerRequest) for step in steps):
        one = _marshal_one(steps)
        return lambda: one

    per_request = tuple(step[2] for step in steps if isinstance(step[2], _PerRequest))
    # One per request root (a URL's scheme and host) a client uses, so bounded.
    bound_marshallers = BoundedCache(64)

    def bind():
        return _marshal_one(
            tuple(
                (name, attribute, convert.bind(), default)
                if isinstance(convert, _PerRequest)
                else (name, attribute, convert, default)
                for name, attribute, convert, default in steps
            )
        )

    def bound():
        return bound_marshallers.get(tuple(convert.key() for convert in per_request), bind)

    return bound


def _marshal_one(steps: tuple[Step, ...]) -> Callable:
    def marshal_one(obj):
        get = obj.get if isinstance(obj, dict) else partial(getattr, obj)
        out = {}
        for name, attribute, convert, default in steps:
            if attribute is None:
                out[name] = convert(obj)
                continue
            value = get(attribute, None)
            if value is None:
                out[name] = default
            else:
                out[name] = value if convert is None else convert(value)
        return out

    return marshal_one


_CASTS = {fields.String: str, fields.Integer: int, fields.Boolean: bool, fields.Raw: None}


def _compile_field(name: str, field) -> Step:
    if isinstance(field, type):
        field = field()
    kind = type(field)
    attribute = field.attribute if field.attribute is not None else name
    if hasattr(field, "getter"):
        # The field makes its own getter for the request (see api.urls.ResourceUrl).
        return name, None, _PerRequest(field.getter, field.request_key), None
    if not isinstance(attribute, str) or "." in attribute:
        return name, None, lambda obj: field.output(name, obj), None
    if kind in _CASTS:
        return name, attribute, _CASTS[kind], field.default
    if kind is fields.DateTime and field.dt_format == "iso8601":

        def timestamp(value):
            return value.isoformat() if isinstance(value, datetime) else field.format(value)

        return name, attribute, timestamp, field.default
    if kind is fields.List and type(field.container) is fields.Nested:
        nested = field.container.nested

        def many(values):
            one = marshaller(nested)
            return [one(value) for value in values]

        return name, attribute, many, field.default
    return name, None, lambda obj: field.output(name, obj), None
