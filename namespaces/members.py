"""The members of a bucket list: the accounts it is shared with, each in a role.

Every member sees the list and its members; the owner adds, changes and removes them,
and a member may leave. Who may do what is `api.policies.roles`'. The routes join the
bucket lists' namespace (`ns`, which the blueprint takes from here), under each list.
"""

from flask_restx import abort, fields
from sqlalchemy import bindparam, case, select
from sqlalchemy.orm import joinedload

import models
from api.plumbing.errors import error_model, quoted
from api.policies.authentication import ProtectedResource, current_user
from api.policies.conditional import check_if_match
from api.policies.loaders import fresh
from api.policies.roles import needs_role
from api.rest.masks import response_fields
from api.rest.resource_models import ResourceUrl, payload, save_new
from models import EDITOR, OWNER, VIEWER, Member, User, db
from namespaces.bucketlist import load_bucket, ns

# A list is shared with a household or a group of friends, not a crowd: its members are
# one short array, never a page of many.
MAX_MEMBERS = 100
SHARED_ROLES = [EDITOR, VIEWER]

member = ns.model(
    "Member",
    {
        "user_id": fields.Integer(readonly=True, description="The member's account id"),
        "email": fields.String(attribute="user.email", readonly=True),
        "role": fields.String(readonly=True, enum=list(models.ROLES)),
        "added_at": fields.DateTime(readonly=True, description="When they joined the list"),
        "uri": ResourceUrl("api.bucketlist_member_item", id="bucket_id", user_id="user_id"),
    },
)
role_field = fields.String(
    required=True,
    enum=SHARED_ROLES,
    description="editor: changes the list and its items; viewer: reads them",
)
member_input = ns.model(
    "MemberInput",
    {
        "email": fields.String(
            required=True,
            min_length=1,
            max_length=254,
            example="bob@example.com",
            description="The email of an existing account",
        ),
        "role": role_field,
    },
)
role_input = ns.model("RoleChange", {"role": role_field})


def members_statement():
    """The members of bucket list `bucket` (bound), the owner first, then by arrival."""
    return fresh(
        select(Member)
        .options(joinedload(Member.user).load_only(User.email))
        .where(Member.bucket_id == bindparam("bucket"))
        .order_by(case((Member.role == OWNER, 0), else_=1), Member.added_at, Member.user_id)
    )


def load_member(bucket_id: int, user_id: int, lock: bool = False) -> Member:
    """Member `user_id` of bucket list `bucket_id` (whose access the caller's loader has
    checked already), or 404."""
    statement = fresh(
        select(Member)
        .options(joinedload(Member.user).load_only(User.email))
        .where(Member.bucket_id == bucket_id, Member.user_id == user_id)
    )
    if lock:
        statement = statement.with_for_update(key_share=True, of=Member)
    found = db.session.scalars(statement).first()
    if found is None:
        abort(404, f"Account {user_id} is not a member of bucket list {bucket_id}.")
    return found


def refuse_owner(target: Member, what: str) -> None:
    """409 when `target` is the list's owner, whose place cannot change."""
    if target.role == OWNER:
        abort(409, f"The owner {what}: a bucket list keeps its owner until it is deleted.")


@ns.route("/<int:id>/members/")
@ns.param("id", "The bucket list's id")
@ns.response(404, "Bucket list not found", error_model)
class MemberList(ProtectedResource):
    @ns.marshal_list_with(member, paged=False, description="The owner first, then by arrival")
    @needs_role(ns, VIEWER)
    def get(self, id):
        """List a bucket list's members with their roles"""
        load_bucket(id, VIEWER, fields={})
        return list(db.session.scalars(members_statement(), {"bucket": id}))

    @ns.expect(member_input)
    @ns.marshal_with(member, code=201, description="Member added")
    @ns.response(400, "Invalid member", error_model)
    @ns.response(409, "Already a member, or the list is full", error_model)
    @ns.response(404, "Bucket list not found, or no account has this email", error_model)
    @needs_role(ns, OWNER)
    def post(self, id):
        """Share a bucket list with an existing account, as an editor or a viewer"""
        found = load_bucket(id, OWNER, lock=True)
        data = payload(member_input)
        email = User.normalize_email(data["email"])
        # Locked as the new row will refer to it: an account being deleted meanwhile
        # is waited for, and then no account (models.sync.delete_account).
        account = db.session.scalar(
            select(User.id).where(User.email == email).with_for_update(read=True, key_share=True)
        )
        if account is None:
            abort(404, f"No account has the email {quoted(data['email'])}.")
        present = db.session.execute(
            select(Member.user_id, Member.role).where(Member.bucket_id == id)
        ).all()
        roles = dict(present)
        if account in roles:
            abort(409, f"{quoted(email)} is a member already, as {roles[account]}.")
        if len(roles) >= MAX_MEMBERS:
            abort(409, f"A bucket list has at most {MAX_MEMBERS} members, its owner included.")
        created = Member(
            bucket_id=id,
            user_id=account,
            role=data["role"],
            name=found.name,
            created_at=found.created_at,
        )
        _, status, headers = save_new(created, member["uri"])
        return load_member(id, account), status, headers


@ns.route("/<int:id>/members/<int:user_id>")
@ns.param("id", "The bucket list's id")
@ns.param("user_id", "The member's account id")
@ns.response(404, "Bucket list or member not found", error_model)
class MemberItem(ProtectedResource):
    @ns.marshal_with(member)
    @needs_role(ns, VIEWER)
    def get(self, id, user_id):
        """Show a member of a bucket list"""
        load_bucket(id, VIEWER, fields={})
        return load_member(id, user_id)

    @ns.expect(role_input)
    @ns.marshal_with(member)
    @ns.response(400, "Invalid role", error_model)
    @ns.response(409, "The owner's role cannot change", error_model)
    @needs_role(ns, OWNER)
    def patch(self, id, user_id):
        """Give a member another role"""
        load_bucket(id, OWNER, fields={}, lock=True)
        target = load_member(id, user_id, lock=True)
        check_if_match(target, response_fields(member))
        data = payload(role_input)
        refuse_owner(target, "has the owner role")
        target.role = data["role"]
        db.session.flush()
        return target

    @ns.response(204, "Member removed (or left); the list is gone from their account")
    @ns.response(409, "The owner cannot be removed", error_model)
    @needs_role(ns, OWNER, self_role=VIEWER)
    def delete(self, id, user_id):
        """Remove a member from a bucket list; any member may remove themself (leave)"""
        leaving = user_id == current_user().id
        load_bucket(id, VIEWER if leaving else OWNER, fields={}, lock=True)
        target = load_member(id, user_id, lock=True)
        check_if_match(target, response_fields(member))
        refuse_owner(target, "cannot leave or be removed")
        db.session.delete(target)
        return None, 204
