"""Bucket lists: named lists of things to do some day, each holding items."""

from flask_restx import fields, inputs
from sqlalchemy import select, union_all

import models
from api.plumbing.errors import error_model
from api.policies.authentication import ProtectedResource, current_user
from api.policies.conditional import check_if_match
from api.policies.loaders import fresh, load_owned, owned
from api.policies.ordering import MOVE, last_position, move_after, move_target
from api.policies.pagination import Listing, containing, equal_to, list_parser
from api.policies.roles import load_shared, needs_role
from api.policies.sync import GONE, LISTED, SYNC_HEADERS, add_since, synced_page
from api.rest.masks import load_options, nested_fields, response_fields
from api.rest.namespace import Namespace
from api.rest.resource_models import (
    ResourceUrl,
    merge_patch,
    payload,
    resource_models,
    save_changes,
    save_new,
    task_fields,
    text,
)
from models import EDITOR, OWNER, ROLES, VIEWER, Member, db
from models.sync import buckets_of, items_of

ns = Namespace(
    "bucketlist",
    path="/bucketlists",
    description="The bucket lists the caller owns and those shared with them",
)

item_input, item_patch, item = resource_models(
    ns,
    "Item",
    {
        "name": text(200, "See the aurora", required=True),
        "description": text(10000, "From Tromsø"),
        "done": fields.Boolean(default=False, nullable=False),
    },
    uri=ResourceUrl("api.bucketlist_item", id="bucket_id", item_id="id"),
    **task_fields(),
)
ns.add_model(MOVE.name, MOVE)
EMBEDDED_ITEMS = 100
bucket_input, bucket_patch, bucket = resource_models(
    ns,
    "Bucket",
    {"name": text(100, "Travel", required=True), "description": text(10000, "Places to go")},
    uri=ResourceUrl("api.bucketlist_bucket", id="id"),
    item_count=fields.Integer(readonly=True, description="How many items it holds"),
    done_count=fields.Integer(readonly=True, description="How many of its items are done"),
    items=fields.List(
        fields.Nested(item),
        readonly=True,
        attribute="first_items",
        description=f"Its first {EMBEDDED_ITEMS} items in the manual order; items_uri lists "
        "them all",
    ),
    items_truncated=fields.Boolean(
        readonly=True, description=f"True when it holds more than the {EMBEDDED_ITEMS} shown"
    ),
    items_uri=ResourceUrl("api.bucketlist_item_list", id="id"),
    role=fields.String(
        readonly=True, enum=list(ROLES), description="The caller's role on the bucket list"
    ),
    owner=fields.Nested(
        ns.model(
            "BucketOwner",
            {
                "id": fields.Integer(readonly=True, description="The owner's account id"),
                "email": fields.String(readonly=True, description="The owner's email"),
            },
        ),
        readonly=True,
        description="The account that owns the bucket list",
    ),
)
# Items are their list's owner's rows: whoever reads them reads them with the owner's id.
OWNER_ID = {"user_id": fields.Integer()}
# Lists leave each bucket's items out unless the mask asks for them.
BUCKET_LIST_MASK = (
    "{" + ",".join(name for name in bucket if name not in ("items", "items_truncated")) + "}"
)

bucket_list_args = list_parser("id", "created_at", "name")
bucket_list_args.add_argument(
    "q", type=str, location="args", help="Case-insensitive substring of the name."
)
bucket_list_args.add_argument(
    "role",
    choices=list(ROLES),
    location="args",
    help="Only the lists on which the caller has this role (owner: the caller's own).",
)
item_list_args = list_parser("id", "created_at", "name", "position")
item_list_args.add_argument(
    "q", type=str, location="args", help="Case-insensitive substring of the name."
)
item_list_args.add_argument(
    "done", type=inputs.boolean, location="args", help="Only done (true) or open (false) items."
)
add_since(bucket_list_args)
add_since(item_list_args)
# Through the caller's memberships, which copy their list's sort keys (models.bucket).
bucket_listing = Listing(
    models.Bucket,
    {"created_at": Member.created_at, "name": Member.name, "id": Member.bucket_id},
    filters={"q": containing(Member.name), "role": equal_to(Member.role)},
    shared=True,
)
item_listing = Listing(
    models.Item,
    {
        "created_at": models.Item.created_at,
        "name": models.Item.name,
        "position": models.Item.position,
        "id": models.Item.id,
    },
    filters={"done": equal_to(models.Item.done), "q": containing(models.Item.name)},
    scope=("bucket_id",),
)


def load_bucket(
    id: int, needs: str, fields: dict | None = None, lock: bool = False
) -> models.Bucket:
    """Bucket list `id`, when the caller's role on it allows what `needs` may; else 404
    or 403 (`api.policies.roles.load_shared`).

    Its first items are loaded only when `fields` show them (`embed_items`).
    """
    loaded = None if fields is None else {**fields, **OWNER_ID}
    found = load_shared(
        models.Bucket, id, needs=needs, fields=loaded, lock=lock, name="Bucket list"
    )
    embed_items([found], fields or {})
    return found


def save_bucket(found: models.Bucket, data: dict) -> models.Bucket:
    """`save_changes` of a bucket list, which keeps the caller's role: the ORM forgets
    what a query added to a row (`Bucket.role`) when the write expires the row's counts."""
    role = found.role
    saved = save_changes(found, data)
    saved.role = role
    return saved


def embed_items(buckets: list[models.Bucket], fields: dict) -> None:
    """When `fields` show a bucket's items, give each of `buckets` its first
    `EMBEDDED_ITEMS` items in the manual order (`first_items`, loaded as those fields
    show them) and `items_truncated`.

    One statement for all of them, whose part for each bucket reads at most one item more
    than it shows from the index on (owner, bucket, position, id): a bucket of a million
    items costs what one of ten does.
    """
    if not buckets or not fields.keys() & {"items", "items_truncated"}:
        return
    shown = nested_fields(fields["items"]) if "items" in fields else {"id": item["id"]}
    Item = models.Item
    firsts = [
        select(Item.id)
        .where(*owned(Item, found.user_id, bucket_id=found.id))
        .order_by(Item.position, Item.id)
        .limit(EMBEDDED_ITEMS + 1)
        .subquery()
        for found in buckets
    ]
    rows = fresh(
        select(Item.bucket_id, Item)
        # Each part is the caller's already; the ids lead to the rows by primary key.
        .where(Item.id.in_(union_all(*(select(first.c.id) for first in firsts))))
        .order_by(Item.bucket_id, Item.position, Item.id)
        .options(*load_options(Item, shown, owned))
    )
    embedded = {found.id: [] for found in buckets}
    for bucket_id, found in db.session.execute(rows):
        embedded[bucket_id].append(found)
    for found in buckets:
        items = embedded[found.id]
        found.first_items = items[:EMBEDDED_ITEMS]
        found.items_truncated = len(items) > EMBEDDED_ITEMS


def load_item(
    bucket_id: int, item_id: int, fields: dict | None = None, lock: bool = False
) -> models.Item:
    """Item `item_id` of bucket list `bucket_id`, or 404; a viewer reads it, and an editor
    (`lock`) changes it, else 403 (`api.policies.roles`).

    A writer locks the bucket list first, then the item: the order in which deleting
    the list takes them, so the two never deadlock.
    """
    if not lock:
        return load_shared(
            models.Item, item_id, needs=VIEWER, fields=fields, name="Item", bucket_id=bucket_id
        )
    bucket = load_bucket(bucket_id, EDITOR, fields=OWNER_ID, lock=True)
    return load_owned(
        models.Item,
        item_id,
        fields=fields,
        lock=True,
        name="Item",
        owner=bucket.user_id,
        bucket_id=bucket_id,
    )


@ns.route("/")
class BucketList(ProtectedResource):
    @ns.doc(description="Each bucket's `items` are left out unless the mask asks for them.")
    @ns.expect(bucket_list_args)
    @ns.marshal_list_with(
        bucket, default_mask=BUCKET_LIST_MASK, headers=SYNC_HEADERS, description=LISTED
    )
    @ns.response(400, "Invalid query arguments or sync token", error_model)
    @ns.response(410, GONE, error_model)
    def get(self):
        """List the bucket lists the caller owns and those shared with them, or with `since`
        what changed since a sync token"""
        args = bucket_list_args.parse_args()
        shown = response_fields(bucket, BUCKET_LIST_MASK)
        user = current_user()
        buckets, status, headers = synced_page(
            bucket_listing,
            buckets_of(user.id),
            args,
            {**shown, **OWNER_ID},
            count=user.bucket_count,
        )
        embed_items([row for row in buckets if isinstance(row, models.Bucket)], shown)
        return buckets, status, headers

    @ns.expect(bucket_input)
    @ns.marshal_with(bucket, code=201, description="Bucket list created")
    @ns.response(400, "Invalid bucket list", error_model)
    def post(self):
        """Create a bucket list"""
        # A new bucket list is empty: it embeds no items, without asking the database.
        # Its owner becomes its first member as it is written (models.bucket).
        user = current_user()
        created = models.Bucket(user_id=user.id, **payload(bucket_input, replace=True))
        created.role = OWNER
        created.owner = db.session.get(models.User, user.id)
        return save_new(created, bucket["uri"])


@ns.route("/<int:id>")
@ns.param("id", "The bucket list's id")
@ns.response(404, "Bucket list not found", error_model)
class Bucket(ProtectedResource):
    @ns.marshal_with(bucket)
    @needs_role(ns, VIEWER)
    def get(self, id):
        """Show a bucket list with its first 100 items"""
        return load_bucket(id, VIEWER, response_fields(bucket))

    @ns.expect(bucket_input)
    @ns.marshal_with(bucket)
    @ns.response(400, "Invalid bucket list", error_model)
    @needs_role(ns, EDITOR)
    def put(self, id):
        """Replace a bucket list's name and description"""
        shown = response_fields(bucket)
        found = load_bucket(id, EDITOR, shown, lock=True)
        check_if_match(found, shown)
        return save_bucket(found, payload(bucket_input, replace=True))

    @ns.expect(bucket_patch)
    @ns.marshal_with(bucket)
    @ns.response(400, "Invalid change", error_model)
    @needs_role(ns, EDITOR)
    def patch(self, id):
        """Change some fields of a bucket list (JSON merge patch: null clears a field)"""
        shown = response_fields(bucket)
        found = load_bucket(id, EDITOR, shown, lock=True)
        check_if_match(found, shown)
        return save_bucket(found, merge_patch(bucket_patch, bucket_input))

    @ns.response(204, "Bucket list and its items deleted, for every member")
    @needs_role(ns, OWNER)
    def delete(self, id):
        """Delete a bucket list and its items"""
        shown = response_fields(bucket)
        found = load_bucket(id, OWNER, shown, lock=True)
        check_if_match(found, shown)
        # The database deletes the items (ON DELETE CASCADE), none of them loaded.
        db.session.delete(found)
        return None, 204


@ns.route("/<int:id>/items/")
@ns.param("id", "The bucket list's id")
@ns.response(404, "Bucket list not found", error_model)
class ItemList(ProtectedResource):
    @ns.expect(item_list_args)
    @ns.marshal_list_with(item, headers=SYNC_HEADERS, description=LISTED)
    @ns.response(400, "Invalid query arguments or sync token", error_model)
    @ns.response(410, GONE, error_model)
    @needs_role(ns, VIEWER)
    def get(self, id):
        """List the items of a bucket list, or with `since` what changed since a sync token"""
        args = item_list_args.parse_args()
        found = load_bucket(id, VIEWER, fields={"item_count": bucket["item_count"]})
        return synced_page(
            item_listing,
            items_of(id),
            args,
            response_fields(item),
            count=found.item_count,
            owner=found.user_id,
            bucket_id=id,
        )

    @ns.expect(item_input)
    @ns.marshal_with(item, code=201, description="Item created")
    @ns.response(400, "Invalid item", error_model)
    @needs_role(ns, EDITOR)
    def post(self, id):
        """Add an item to a bucket list; it goes last in the manual order"""
        # Locked, so that a list being deleted meanwhile is a 404, not a broken reference,
        # and items added at once each take their own last place.
        found = load_bucket(id, EDITOR, fields=OWNER_ID, lock=True)
        created = models.Item(
            bucket_id=id,
            user_id=found.user_id,
            position=last_position(models.Item, owner=found.user_id, bucket_id=id),
        )
        created.update(payload(item_input, replace=True))
        return save_new(created, item["uri"])


@ns.route("/<int:id>/items/<int:item_id>")
@ns.param("id", "The bucket list's id")
@ns.param("item_id", "The item's id")
@ns.response(404, "Bucket list or item not found", error_model)
class Item(ProtectedResource):
    @ns.marshal_with(item)
    @needs_role(ns, VIEWER)
    def get(self, id, item_id):
        """Show an item"""
        return load_item(id, item_id, response_fields(item))

    @ns.expect(item_input)
    @ns.marshal_with(item)
    @ns.response(400, "Invalid item", error_model)
    @needs_role(ns, EDITOR)
    def put(self, id, item_id):
        """Replace an item"""
        found = load_item(id, item_id, lock=True)
        check_if_match(found, response_fields(item))
        return save_changes(found, payload(item_input, replace=True))

    @ns.expect(item_patch)
    @ns.marshal_with(item)
    @ns.response(400, "Invalid change", error_model)
    @needs_role(ns, EDITOR)
    def patch(self, id, item_id):
        """Change some fields of an item (JSON merge patch: null clears a field)"""
        found = load_item(id, item_id, lock=True)
        check_if_match(found, response_fields(item))
        return save_changes(found, merge_patch(item_patch, item_input))

    @ns.response(204, "Item deleted")
    @needs_role(ns, EDITOR)
    def delete(self, id, item_id):
        """Delete an item"""
        found = load_item(id, item_id, lock=True)
        check_if_match(found, response_fields(item))
        db.session.delete(found)
        return None, 204


@ns.route("/<int:id>/items/<int:item_id>/move")
@ns.param("id", "The bucket list's id")
@ns.param("item_id", "The item's id")
@ns.response(404, "Bucket list or item not found", error_model)
class ItemMove(ProtectedResource):
    @ns.expect(MOVE)
    @ns.marshal_with(item)
    @ns.response(400, "Invalid move", error_model)
    @needs_role(ns, EDITOR)
    def post(self, id, item_id):
        """Move an item right after another of its list (after null: first)"""
        found = load_item(id, item_id, lock=True)
        check_if_match(found, response_fields(item))
        move_after(found, move_target(), name="Item", owner=found.user_id, bucket_id=id)
        return save_changes(found, {})
