"""Field masks: `X-Fields` (or `?fields=`) in Flask-RESTX syntax, checked before any work.

A mask is parsed and applied to the response model before the handler runs, so a
bad mask is a 400 that changes nothing. The masked model is kept on `g` so that
handlers load only the columns and relations the client asked for: as ORM objects for
a write, as rows read into dicts for a read (`Wanted.read`).
"""

import operator
from collections import defaultdict
from collections.abc import Callable
from typing import NamedTuple

from flask import current_app, g, request
from flask_restx.mask import Mask, MaskError
from sqlalchemy import bindparam, inspect, select
from sqlalchemy.orm import ONETOMANY, load_only
from sqlalchemy.orm.attributes import set_committed_value
from werkzeug.exceptions import BadRequest

from api.auth import current_user
from api.caches import BoundedCache
from api.concurrency import rows_read
from api.connections import read_dicts
from api.requests import header
from models import db

FIELDS_PARAM = "fields"
MASK_DESCRIPTION = (
    "A field mask in Flask-RESTX syntax, e.g. `{id,title}` or `{name,items{name}}`; "
    "the same as the X-Fields header, for clients that cannot set headers."
)
_masked = BoundedCache(512)
_wanted = BoundedCache(512)
# Read statements kept per relation, one per number of parents (a page has 100 at most).
MAX_PARENTS = 100


def requested_mask() -> str | None:
    mask = header(current_app.config["RESTX_MASK_HEADER"])
    if not mask and _may_name(request.environ.get("QUERY_STRING", ""), FIELDS_PARAM):
        mask = request.args.get(FIELDS_PARAM)
    # A blank mask is no mask, as an empty one is (Flask-RESTX's parser fails on it).
    return mask if mask and mask.replace("\n", "").strip() else None


def _may_name(query: str, name: str) -> bool:
    """Whether a query string may hold the argument `name` (perhaps percent-encoded), so
    that one which cannot is not parsed for it."""
    return name in query or "%" in query


def masked_model(model: dict, mask: str | None) -> dict:
    """The fields of `model` that `mask` selects, or 400 when the mask is unusable."""
    if not mask:
        return model
    return _masked.get((id(model), mask), lambda: _apply(model, mask), pin=model)


def _apply(model: dict, mask: str) -> dict:
    try:
        # `resolved` includes the fields a model inherits (`ns.inherit`).
        fields = Mask(mask, skip=True).apply(getattr(model, "resolved", model))
    except MaskError as error:
        raise BadRequest(f"Invalid field mask {mask!r}: {error}") from None
    if _selects_nothing(fields):
        raise BadRequest(f"The field mask {mask!r} leaves {model.name} or a nested model empty.")
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


class Relation(NamedTuple):
    """A one-to-many relation a response shows: loaded for a batch of rows by one statement.

    Built once per masked model, so the statements are reused: SQLAlchemy's
    `selectinload` builds its statement, and works out its cache key, again for every load.
    """

    key: str  # the relation's attribute on the parent
    parent_key: str  # the parent's column the children refer to
    child_key: str  # the children's column that refers to it
    statement: object  # the children as ORM objects
    rows_statement: Callable[[int], object]  # the same children as rows, for n parents
    nested: "Wanted"

    def _children(self, parents: list, get, fetch) -> dict:
        """The children of `parents` (read with `get`), grouped by parent, fetched once."""
        ids = list({get(parent, self.parent_key) for parent in parents})
        children = fetch(ids, current_user().id) if ids else []
        groups = defaultdict(list)
        for child in children:
            groups[get(child, self.child_key)].append(child)
        return groups

    def load(self, parents: list) -> None:
        """Set the relation on ORM `parents`, as loaded from the database."""

        def fetch(ids, owner):
            params = {"parents": ids, "owner": owner}
            return self.nested.load(db.session.scalars(self.statement, params).all())

        groups = self._children(parents, getattr, fetch)
        for parent in parents:
            set_committed_value(parent, self.key, groups.get(getattr(parent, self.parent_key), []))

    def read(self, parents: list[dict]) -> None:
        """Put the relation's rows into `parents`, rows read as dicts."""

        def fetch(ids, owner):
            # One bound value per parent: a read's statement is compiled once per shape.
            params = {"owner": owner, **{f"parent{i}": id for i, id in enumerate(ids)}}
            return self.nested.read(read_dicts(self.rows_statement(len(ids)), params))

        groups = self._children(parents, operator.getitem, fetch)
        for parent in parents:
            parent[self.key] = groups.get(parent[self.parent_key], [])


class Wanted(NamedTuple):
    """What a response needs of an entity: its columns (and loader options that load
    only those), and its relations."""

    options: tuple = ()
    relations: tuple[Relation, ...] = ()
    columns: tuple = ()
    entity: type | None = None

    def load(self, rows: list) -> list:
        """Load the relations into ORM `rows` (loaded with `options`); returns `rows`."""
        if rows:
            for relation in self.relations:
                relation.load(rows)
        return rows

    def read(self, parents: list[dict]) -> list[dict]:
        """Rows of `columns` read as dicts (`api.connections.read_dicts`), given the
        relations a response shows; returns `parents`.

        A row is no ORM object: nothing is tracked, so a read costs a fraction of a load.
        It is a dict because a marshaller reads a dict's values faster than a row's
        attributes.
        """
        if not parents:
            return parents
        if self.entity is not None:
            rows_read(self.entity, parents)
        for relation in self.relations:
            relation.read(parents)
        return parents


NOTHING = Wanted()


def load_wanted(entity, fields: dict | None = None) -> Wanted:
    """What to load of `entity` for the response: only the columns and relations it shows.

    Columns the masked model leaves out are not loaded; a relation the mask keeps is
    loaded for all rows at once by `Wanted.load`, itself restricted the same way. This is
    worked out once per entity and masked model, and the same object is returned after
    that, so statements built with it can be reused.
    """
    fields = g.get("fields") if fields is None else fields
    return _wanted.get((entity, id(fields)), lambda: _wanted_of(entity, fields), pin=fields)


def _wanted_of(entity, fields: dict | None, extra: tuple[str, ...] = ()) -> Wanted:
    mapper = inspect(entity)
    columns, relations = set(extra), []
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
            relations.append(_relation(mapper.relationships[attribute], _nested_model(field)))
    columns.update(column.key for column in mapper.primary_key)
    attributes = tuple(getattr(entity, name) for name in sorted(columns))
    return Wanted((load_only(*attributes),), tuple(relations), attributes, entity)


def _relation(prop, fields: dict | None) -> Relation:
    """The loader of a one-to-many relation `prop`, showing `fields` of each child."""
    (parent_column, child_column), *more = prop.local_remote_pairs
    if prop.direction is not ONETOMANY or more:
        raise NotImplementedError(f"{prop}: only one-to-many relations on one column")
    target = prop.mapper
    parent_key = prop.parent.get_property_by_column(parent_column).key
    child_key = target.get_property_by_column(child_column).key
    nested = _wanted_of(target.class_, fields or {}, extra=(child_key,))
    child = getattr(target.class_, child_key)
    # Scoped by owner like every query, though the parents already are.
    owner = target.class_.user_id == bindparam("owner")
    order = (child, *(prop.order_by or ()))
    statement = (
        select(target.class_)
        .where(owner, child.in_(bindparam("parents", expanding=True)))
        .options(*nested.options)
        .order_by(*order)
    )
    rows_statements = BoundedCache(MAX_PARENTS)

    def rows_statement(parents: int):
        def build():
            ids = [bindparam(f"parent{i}") for i in range(parents)]
            return select(*nested.columns).where(owner, child.in_(ids)).order_by(*order)

        return rows_statements.get(parents, build)

    return Relation(prop.key, parent_key, child_key, statement, rows_statement, nested)
