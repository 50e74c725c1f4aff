"""Owner-scoped lookups: a row that is not the caller's does not exist for them."""

from flask_restx import abort
from sqlalchemy import bindparam, select

from api.auth import current_user
from api.caches import BoundedCache
from api.masks import NOTHING, Wanted
from models import db

# Statement shapes: entities x columns loaded (masks) x scopes.
_statements = BoundedCache(1024)


def owned(entity, scope=()) -> list:
    """Conditions for a statement built once: the row is the caller's (bound as `owner`)
    and each `scope` column equals the value bound under its name."""
    return [
        entity.user_id == bindparam("owner"),
        *(getattr(entity, name) == bindparam(name) for name in scope),
    ]


def _owned_statement(entity, scope: tuple, options: tuple):
    """`SELECT entity` by owner, id and `scope` columns, built once per shape."""

    def build():
        criteria = [*owned(entity, scope), entity.id == bindparam("id")]
        return select(entity).where(*criteria).options(*options)

    return _statements.get((entity, scope, id(options)), build, pin=options)


def get_owned_or_404(
    entity, ident: int, wanted: Wanted = NOTHING, name: str | None = None, **scope
):
    """The caller's `entity` with this id (and these `scope` column values), or 404.

    `wanted` (from `api.masks.load_wanted`) says which columns and relations to load.
    """
    stmt = _owned_statement(entity, tuple(sorted(scope)), wanted.options)
    found = db.session.scalars(stmt, {"owner": current_user().id, "id": ident, **scope}).first()
    if found is None:
        abort(404, f"{name or entity.__name__} {ident} not found.")
    wanted.load([found])
    return found
