"""Marshalling compiled once per (masked) model: Flask-RESTX's output, without its per-value cost.

`flask_restx.marshal` looks every field up, formats it through several calls and builds
an OrderedDict, for every object. Here each model is turned once into a list of small
getters, so a page of rows costs little more than reading their attributes. Field types
it does not know fall back to the field's own `output`, so the result is always the one
Flask-RESTX would give.
"""

from collections.abc import Callable
from datetime import datetime

from flask_restx import fields

_compiled: dict[int, tuple[dict, Callable]] = {}
_LIMIT = 1024


def marshaller(model: dict) -> Callable:
    """A function that marshals one object with `model` in the current request.

    The model is compiled once and cached; fields whose output depends on the request
    (a resource's absolute URL holds the host) are bound once per call of this function,
    not once per object.
    """
    cached = _compiled.get(id(model))
    if cached is None or cached[0] is not model:
        if len(_compiled) >= _LIMIT:
            _compiled.clear()
        cached = _compiled[id(model)] = (model, _compile_model(model))
    return cached[1]()


def marshal(data, model: dict):
    """`flask_restx.marshal(data, model)` for an object or a list of them."""
    one = marshaller(model)
    if isinstance(data, list | tuple):
        return [one(item) for item in data]
    return one(data)


class _PerRequest:
    """A field's getter that is made afresh for each request: `bind()` returns it."""

    __slots__ = ("bind",)

    def __init__(self, bind: Callable[[], Callable]):
        self.bind = bind


def _compile_model(model: dict) -> Callable[[], Callable]:
    """A function that returns the marshaller of `model`, bound to the current request."""
    model = getattr(model, "resolved", model)
    steps = tuple((name, _compile_field(name, field)) for name, field in model.items())

    def marshaller_of(steps):
        def marshal_one(obj):
            return {name: step(obj) for name, step in steps}

        return marshal_one

    if not any(isinstance(step, _PerRequest) for _, step in steps):
        one = marshaller_of(steps)
        return lambda: one

    def bound():
        return marshaller_of(
            tuple(
                (name, step.bind() if isinstance(step, _PerRequest) else step)
                for name, step in steps
            )
        )

    return bound


def _getter(key):
    def get(obj):
        if isinstance(obj, dict):
            return obj.get(key)
        return getattr(obj, key, None)

    return get


def _compile_field(name: str, field) -> Callable:
    if isinstance(field, type):
        field = field()
    kind = type(field)
    attribute = field.attribute if field.attribute is not None else name
    if hasattr(field, "getter"):
        # The field makes its own getter, once per request (see api.urls.ResourceUrl).
        return _PerRequest(field.getter)
    if not isinstance(attribute, str) or "." in attribute:
        return lambda obj: field.output(name, obj)
    get, default = _getter(attribute), field.default
    if kind in (fields.String, fields.Integer, fields.Boolean, fields.Raw):
        cast = {fields.String: str, fields.Integer: int, fields.Boolean: bool}.get(kind)

        def simple(obj):
            value = get(obj)
            if value is None:
                return default
            return cast(value) if cast else value

        return simple
    if kind is fields.DateTime and field.dt_format == "iso8601":

        def timestamp(obj):
            value = get(obj)
            if isinstance(value, datetime):
                return value.isoformat()
            return field.format(value) if value is not None else default

        return timestamp
    if kind is fields.List and type(field.container) is fields.Nested:
        nested = field.container.nested

        def many(obj):
            values = get(obj)
            if values is None:
                return default
            one = marshaller(nested)
            return [one(value) for value in values]

        return many
    return lambda obj: field.output(name, obj)
