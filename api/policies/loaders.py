"""Owner-scoped loading: a row that is not the caller's does not exist for them.

`load_owned` is the one way a resource finds its own row, for reads and writes alike;
each namespace wraps it in one loader per entity (`load_todo`, `load_api_key`, ...). Rows
of a bucket list, which its members share, are found through their list's membership
(`api.policies.roles.load_shared`).
"""

from functools import lru_cache

from flask_restx import abort
from sqlalchemy import bindparam, select

from api.policies.authentication import current_user
from api.policies.transactions import begin_writing
from api.rest.masks import load_options
from models import db


def owned(entity, owner: int | None = None, **scope) -> list:
    """Conditions: the row is the caller's (or, given, account `owner`'s), and each
    `scope` column has its given value."""
    return [
        entity.user_id == (current_user().id if owner is None else owner),
        *(getattr(entity, name) == value for name, value in scope.items()),
    ]


def fresh(statement):
    """`statement`, its ORM objects refreshed with what the database holds now.

    The session may hold them already, from earlier in the request (or, where an app
    context outlives a request, from an earlier one); a locked read must see the row as
    it is locked, as SQLAlchemy's documentation of `with_for_update` advises.
    """
    return statement.execution_options(populate_existing=True)


@lru_cache(maxsize=64)
def owned_statement(entity, scope: tuple[str, ...] = (), lock: bool = False):
    """`SELECT entity` by id (bound as `id`), owner (`owner`) and each `scope` column
    (bound under its name), fresh; with `lock`, FOR NO KEY UPDATE.

    Built once per shape: SQLAlchemy works out a statement's cache key once per statement
    object, and building it again on every request cost about a tenth of a GET.
    """
    criteria = [
        entity.id == bindparam("id"),
        entity.user_id == bindparam("owner"),
        *(getattr(entity, name) == bindparam(name) for name in scope),
    ]
    statement = fresh(select(entity).where(*criteria))
    return statement.with_for_update(key_share=True) if lock else statement


def load_owned(
    entity,
    ident: int,
    *,
    fields: dict | None = None,
    lock: bool = False,
    name: str,
    owner: int | None = None,
    **scope,
):
    """The caller's `entity` with this id (and these `scope` column values), or 404; with
    `owner`, that account's (the owner of a bucket list the caller may see: items are
    their list's owner's rows).

    `fields` (from `api.rest.masks.response_fields`) limits what is loaded to what the
    response shows; None loads every column and no relation. With `lock`, for a write,
    the row is locked until the transaction ends: FOR NO KEY UPDATE on PostgreSQL (the
    lock its UPDATE takes, which still lets others add rows that refer to it), and
    SQLite's write lock taken now (`BEGIN IMMEDIATE`), since SQLite locks the whole
    database. Concurrent writers of one row so take turns, each on the row as the one
    before left it.
    """
    statement = owned_statement(entity, tuple(sorted(scope)), lock)
    if fields is not None:
        options = load_options(entity, fields, owned)
        if options:
            statement = statement.options(*options)
    if lock:
        begin_writing()
    params = {"id": ident, "owner": current_user().id if owner is None else owner, **scope}
    found = db.session.scalars(statement, params).first()
    if found is None:
        abort(404, f"{name} {ident} not found.")
    return found
