"""Roles on shared bucket lists: a list exists only for its members, each in their role.

`load_shared` is how every bucket list, item and member route finds its row: one
statement finds the row together with the caller's role on its list (their `Member`
row). An account that is not a member gets 404, exactly as if the list did not exist;
a member whose role does not allow the operation gets 403, and the body names the role
it needs (`required_role`) and the caller's (`role`). The role an operation needs is
documented on it (`needs_role`), and `tests/namespaces/test_role_matrix.py` checks every
route against what its documentation says.

The roles are `models.ROLES`, each allowing what those before it allow: a viewer reads;
an editor also changes the list's name and description and its items; the owner also
deletes the list and manages its members.
"""

from functools import lru_cache

from flask_restx import Model, abort, fields
from sqlalchemy import and_, bindparam, select
from sqlalchemy.orm import with_expression

from api.plumbing.errors import error_model
from api.policies.authentication import current_user
from api.policies.loaders import fresh
from api.policies.transactions import begin_writing
from api.rest.masks import load_options
from models import ROLES, Bucket, Member, db

ROLE_KEY = "x-required-role"
SELF_ROLE_KEY = "x-required-role-self"


def allows(role: str, needed: str) -> bool:
    """Whether `role` may do what `needed` may."""
    return ROLES.index(role) >= ROLES.index(needed)


def list_of(entity):
    """The column of `entity` (a bucket list, or a row of one) that names its list."""
    return entity.id if entity is Bucket else entity.bucket_id


def visible(entity, member=None):
    """The join condition of `entity`'s rows and the caller's `Member` rows (the
    caller's id bound as `member`, unless given): only the lists the caller is a member
    of meet it."""
    account = bindparam("member") if member is None else member
    return and_(Member.bucket_id == list_of(entity), Member.user_id == account)


@lru_cache(maxsize=32)
def shared_statement(entity, scope: tuple[str, ...], lock: bool):
    """`SELECT entity, role` by id (bound as `id`) and each `scope` column (under its
    name), joined to the caller's membership of its list; with `lock`, the row and the
    membership are locked, so a member removed or given another role meanwhile is seen
    as the removal or the change left them."""
    statement = fresh(
        select(entity, Member.role)
        .join(Member, visible(entity))
        .where(entity.id == bindparam("id"), *(getattr(entity, n) == bindparam(n) for n in scope))
    )
    if entity is Bucket:
        statement = statement.options(with_expression(Bucket.role, Member.role))
    return statement.with_for_update(key_share=True, of=[entity, Member]) if lock else statement


def load_shared(
    entity,
    ident: int,
    *,
    needs: str,
    fields: dict | None = None,
    lock: bool = False,
    name: str,
    **scope,
):
    """The row of `entity` with this id (and these `scope` column values) on a list the
    caller is a member of, when their role there `allows` what `needs` may; else 404 (not
    a member, or no such row) or 403 (a member whose role does not allow it).

    `fields` and `lock` are as `api.policies.loaders.load_owned` takes them.
    """
    statement = shared_statement(entity, tuple(sorted(scope)), lock)
    if fields is not None:
        # What a shared row refers to is reached through it: no further scope.
        options = load_options(entity, fields, lambda child: [])
        if options:
            statement = statement.options(*options)
    if lock:
        begin_writing()
    params = {"id": ident, "member": current_user().id, **scope}
    found = db.session.execute(statement, params).first()
    if found is None:
        abort(404, f"{name} {ident} not found.")
    row, role = found
    if not allows(role, needs):
        abort(
            403,
            f"This needs the {needs} role on the bucket list; yours is {role}.",
            required_role=needs,
            role=role,
        )
    return row


forbidden_model = Model(
    "RoleRequired",
    {
        **error_model,
        "required_role": fields.String(
            enum=list(ROLES), description="The role the operation needs on the list"
        ),
        "role": fields.String(enum=list(ROLES), description="The caller's role on the list"),
    },
)


def needs_role(ns, role: str, self_role: str | None = None):
    """A decorator documenting on an operation of `ns` that it needs `role` on its bucket
    list: the 403 it answers otherwise, and the `x-required-role` vendor extension; with
    `self_role`, the role it needs when it acts on the caller's own membership (leaving a
    list), as `x-required-role-self`."""
    ns.add_model(forbidden_model.name, forbidden_model)
    refused = f"Needs the {role} role on the bucket list"
    extensions = {ROLE_KEY: role}
    if self_role is not None:
        refused += f" ({self_role} for one's own membership)"
        extensions[SELF_ROLE_KEY] = self_role

    def decorate(func):
        func = ns.response(403, refused, forbidden_model)(func)
        return ns.vendor(extensions)(func)

    return decorate
