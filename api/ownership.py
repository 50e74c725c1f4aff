"""Owner-scoped lookups: a row that is not the caller's does not exist for them."""

from flask_restx import abort
from sqlalchemy import bindparam, select

from api.auth import current_user
from api.caches import BoundedCache
from api.connections import read_dicts
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


def _owned_statement(entity, scope: tuple, columns: tuple | None = None, options: tuple = ()):
    """`SELECT entity ... FOR NO KEY UPDATE`, or only `columns` of it to read, by owner,
    id and `scope` columns; built once per shape."""

    def build():
        criteria = [*owned(entity, scope), entity.id == bindparam("id")]
        if columns is not None:
            return select(*columns).where(*criteria)
        return select(entity).where(*criteria).options(*options).with_for_update(key_share=True)

    # One of the two is given; the cache keeps it, and answers only for that very object.
    shape = options if columns is None else columns
    return _statements.get((entity, scope, columns is None, id(shape)), build, pin=shape)


def _not_found(entity, ident: int, name: str | None):
    abort(404, f"{name or entity.__name__} {ident} not found.")


def get_owned_or_404(
    entity, ident: int, wanted: Wanted = NOTHING, name: str | None = None, **scope
):
    """The caller's `entity` with this id (and these `scope` column values), or 404.

    An ORM object, to change or delete; `wanted` (from `api.masks.load_wanted`) says
    which columns and relations to load. Its row stays locked until the transaction
    ends (FOR NO KEY UPDATE on databases with row locks: the lock an UPDATE takes, which
    still lets others add rows that refer to it), so concurrent writers of one row take
    turns, each on the row as the one before left it, instead of failing on the version
    check and retrying.
    """
    stmt = _owned_statement(entity, tuple(sorted(scope)), options=wanted.options)
    found = db.session.scalars(stmt, {"owner": current_user().id, "id": ident, **scope}).first()
    if found is None:
        _not_found(entity, ident, name)
    wanted.load([found])
    return found


def read_owned_or_404(entity, ident: int, wanted: Wanted, name: str | None = None, **scope):
    """What `get_owned_or_404` finds, read to be shown: a dict of `wanted.columns` and
    relations (`Wanted.read`)."""
    stmt = _owned_statement(entity, tuple(sorted(scope)), wanted.columns)
    params = {"owner": current_user().id, "id": ident, **scope}
    found = read_dicts(stmt, params)
    if not found:
        _not_found(entity, ident, name)
    return wanted.read(found)[0]
