"""Field masks: `X-Fields` (or `?fields=`) in Flask-RESTX syntax, checked before any work.

`response_fields(model)` is the one answer to "which fields does this response show":
the marshalling decorator (`api.rest.namespace`) asks it before the handler runs, so a
bad mask is a 400 that changes nothing, and a handler asks it for the fields its
loader should load. `load_options` turns those fields into SQLAlchemy loader options,
so columns and relations a mask leaves out are not read.
"""

from collections.abc import Callable

from flask import current_app, request
from flask_restx.mask import Mask, MaskError
from sqlalchemy import Column, inspect
from sqlalchemy.orm import joinedload, load_only, selectinload
from werkzeug.exceptions import BadRequest

from api.plumbing.errors import quoted

FIELDS_PARAM = "fields"
MASK_DESCRIPTION = (
    "A field mask in Flask-RESTX syntax, e.g. `{id,title}` or `{name,items{name}}`; "
    "the same as the X-Fields header, for clients that cannot set headers."
)


def requested_mask() -> str | None:
    """The request's mask: the `X-Fields` header, else the `fields` query argument."""
    mask = request.headers.get(current_app.config["RESTX_MASK_HEADER"])
    if not mask:
        mask = request.args.get(FIELDS_PARAM)
    # A blank mask is no mask, as an empty one is (Flask-RESTX's parser fails on it).
    return mask if mask and mask.strip() else None


def response_fields(model: dict, default_mask: str | None = None) -> dict:
    """The fields of `model` the current request's mask (or `default_mask`) selects.

    Raises 400 when the mask cannot be parsed or selects nothing of a model.
    """
    mask = requested_mask() or default_mask
    return masked_model(model, mask) if mask else model


def masked_model(model: dict, mask: str) -> dict:
    """The fields of `model` that `mask` selects, or 400 when the mask is unusable."""
    try:
        # `resolved` includes the fields a model inherits (`ns.inherit`).
        fields = Mask(mask, skip=True).apply(getattr(model, "resolved", model))
    except MaskError as error:
        raise BadRequest(f"Invalid field mask {quoted(mask)}: {error}") from None
    if _selects_nothing(fields):
        raise BadRequest(
            f"The field mask {quoted(mask)} leaves {model.name} or a nested model empty."
        )
    return fields


def _selects_nothing(fields: dict) -> bool:
    """True when the mask leaves the model, or a nested one, with no field at all."""
    if not fields:
        return True
    nested = (nested_fields(field) for field in fields.values())
    return any(model is not None and _selects_nothing(model) for model in nested)


def nested_fields(field) -> dict | None:
    """The fields of the model a `Nested` (or a `List` of them) shows, or None."""
    field = getattr(field, "container", field)
    nested = getattr(field, "nested", None)
    return getattr(nested, "resolved", nested)


def load_options(entity, fields: dict, scope: Callable[[type], list]) -> list:
    """Loader options for `entity` that load the columns and relations `fields` show.

    A collection a field shows is loaded for all rows at once (`selectinload`), restricted
    to the rows that `scope(child_entity)`'s conditions allow (the caller's); the one row
    a many-to-one relation refers to is joined in (`joinedload`). Columns are
    restricted only when the client sent a mask: the options cost more to build than the
    columns of a row cost to read, unless the client asked for less. A field is read from
    the attribute it names (or its own name); one with `depends_on` (a resource URL)
    needs those attributes too.
    """
    mapper = inspect(entity)
    columns, relations = set(), []
    for name, field in fields.items():
        attribute = getattr(field, "attribute", None) or name
        if not isinstance(attribute, str):
            continue
        columns.update(getattr(field, "depends_on", ()))
        if attribute in mapper.column_attrs:
            # Only the table's own columns: an expression a query adds (a bucket list's
            # role) is loaded with the query that adds it.
            if isinstance(mapper.column_attrs[attribute].expression, Column):
                columns.add(attribute)
        elif attribute in mapper.relationships:
            relation = mapper.relationships[attribute]
            child = relation.mapper.class_
            children = load_options(child, nested_fields(field) or {}, scope)
            if not relation.uselist:
                # The one row a row refers to (a bucket list's owner) comes in the
                # same statement.
                columns.update(column.key for column in relation.local_columns)
                relations.append(joinedload(getattr(entity, attribute)).options(*children))
                continue
            related = getattr(entity, attribute).and_(*scope(child))
            relations.append(selectinload(related).options(*children))
    if requested_mask() is None:
        return relations
    if mapper.version_id_col is not None:
        # A versioned row is written against the version it was read at.
        columns.add(mapper.get_property_by_column(mapper.version_id_col).key)
    attributes = [getattr(entity, name) for name in sorted(columns) if name in mapper.column_attrs]
    return [load_only(*attributes), *relations] if attributes else relations
