"""Field masks: `X-Fields` (or `?fields=`) in Flask-RESTX syntax, checked before any work.

A mask is parsed and applied to the response model before the handler runs, so a
bad mask is a 400 that changes nothing. The masked model is kept on `g` so that
handlers load only the columns and relations the client asked for.
"""

from flask import current_app, g, request
from flask_restx.mask import Mask, MaskError
from sqlalchemy import inspect
from sqlalchemy.orm import load_only, selectinload
from werkzeug.exceptions import BadRequest

FIELDS_PARAM = "fields"
MASK_DESCRIPTION = (
    "A field mask in Flask-RESTX syntax, e.g. `{id,title}` or `{name,items{name}}`; "
    "the same as the X-Fields header, for clients that cannot set headers."
)
_CACHE_LIMIT = 512
_cache: dict[tuple[int, str], dict] = {}
_options: dict[tuple, tuple] = {}


def requested_mask() -> str | None:
    mask = request.headers.get(current_app.config["RESTX_MASK_HEADER"])
    mask = mask or request.args.get(FIELDS_PARAM)
    # A blank mask is no mask, as an empty one is (Flask-RESTX's parser fails on it).
    return mask if mask and mask.replace("\n", "").strip() else None


def masked_model(model: dict, mask: str | None) -> dict:
    """The fields of `model` that `mask` selects, or 400 when the mask is unusable."""
    if not mask:
        return model
    key = (id(model), mask)
    fields = _cache.get(key)
    if fields is None:
        try:
            # `resolved` includes the fields a model inherits (`ns.inherit`).
            fields = Mask(mask, skip=True).apply(getattr(model, "resolved", model))
        except MaskError as error:
            raise BadRequest(f"Invalid field mask {mask!r}: {error}") from None
        if _selects_nothing(fields):
            raise BadRequest(
                f"The field mask {mask!r} leaves {model.name} or a nested model empty."
            )
        if len(_cache) >= _CACHE_LIMIT:
            _cache.clear()
        _cache[key] = fields
    return fields


def _selects_nothing(fields: dict) -> bool:
    """True when the mask leaves the model, or a nested one, with no field at all."""
    if not fields:
        return True
    nested = (_nested_model(field) for field in fields.values())
    return any(model is not None and _selects_nothing(model) for model in nested)


def select_fields(model: dict, default_mask: str | None = None) -> dict:
    """Check the request's mask against `model` and remember what it selects."""
    g.fields = fields = masked_model(model, requested_mask() or default_mask)
    return fields


def _nested_model(field) -> dict | None:
    field = getattr(field, "container", field)
    nested = getattr(field, "nested", None)
    return getattr(nested, "resolved", nested)


def load_wanted(entity, fields: dict | None = None) -> tuple:
    """Loader options that fetch only what the response needs, relations included.

    Columns the masked model leaves out are not loaded; a relation the mask keeps is
    loaded for all rows at once (`selectinload`), itself restricted the same way. The
    options are worked out once per entity and masked model, and the same tuple is
    returned after that, so statements built with it can be reused.
    """
    fields = g.get("fields") if fields is None else fields
    key = (entity, id(fields))
    cached = _options.get(key)
    if cached is None or cached[0] is not fields:
        if len(_options) >= _CACHE_LIMIT:
            _options.clear()
        cached = _options[key] = (fields, tuple(_loader_options(entity, fields)))
    return cached[1]


def _loader_options(entity, fields: dict | None) -> list:
    mapper = inspect(entity)
    columns, options = set(), []
    if mapper.version_id_col is not None:
        # Always the version that was read: a conditional write is checked against it.
        columns.add(mapper.get_property_by_column(mapper.version_id_col).key)
    for name, field in (fields or {}).items():
        attribute = getattr(field, "attribute", None) or name
        if not isinstance(attribute, str):
            continue
        columns.update(getattr(field, "depends_on", ()))
        if attribute in mapper.column_attrs:
            columns.add(attribute)
        elif attribute in mapper.relationships:
            target = mapper.relationships[attribute].mapper.class_
            loader = selectinload(getattr(entity, attribute))
            options.append(loader.options(*_loader_options(target, _nested_model(field) or {})))
    columns.update(column.key for column in mapper.primary_key)
    return [load_only(*(getattr(entity, name) for name in sorted(columns))), *options]
