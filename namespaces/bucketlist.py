"""Bucket lists: named lists of things to do some day, each holding items."""

from flask_restx import fields, inputs
from sqlalchemy import delete

import models
from api.plumbing.errors import error_model
from api.policies.authentication import ProtectedResource, current_user
from api.policies.conditional import check_if_match
from api.policies.loaders import load_owned
from api.policies.pagination import Listing, containing, equal_to, list_parser
from api.rest.masks import response_fields
from api.rest.namespace import Namespace
from api.rest.resource_models import (
    ResourceUrl,
    merge_patch,
    payload,
    resource_models,
    save_changes,
    save_new,
    text,
)
from models import db

ns = Namespace("bucketlist", path="/bucketlists", description="The caller's bucket lists")

item_input, item_patch, item = resource_models(
    ns,
    "Item",
    {
        "name": text(200, "See the aurora", required=True),
        "description": text(10000, "From Tromsø"),
        "done": fields.Boolean(default=False, nullable=False),
    },
    uri=ResourceUrl("api.bucketlist_item", id="bucket_id", item_id="id"),
)
bucket_input, bucket_patch, bucket = resource_models(
    ns,
    "Bucket",
    {"name": text(100, "Travel", required=True), "description": text(10000, "Places to go")},
    uri=ResourceUrl("api.bucketlist_bucket", id="id"),
    item_count=fields.Integer(readonly=True),
    items=fields.List(fields.Nested(item), readonly=True),
)
# Lists leave each bucket's items out unless the mask asks for them.
BUCKET_LIST_MASK = "{" + ",".join(name for name in bucket if name != "items") + "}"

bucket_list_args = list_parser("id", "created_at", "name")
bucket_list_args.add_argument(
    "q", type=str, location="args", help="Case-insensitive substring of the name."
)
item_list_args = bucket_list_args.copy()
item_list_args.add_argument(
    "done", type=inputs.boolean, location="args", help="Only done (true) or open (false) items."
)
bucket_listing = Listing(
    models.Bucket,
    {"created_at": models.Bucket.created_at, "name": models.Bucket.name, "id": models.Bucket.id},
    filters={"q": containing(models.Bucket.name)},
)
item_listing = Listing(
    models.Item,
    {"created_at": models.Item.created_at, "name": models.Item.name, "id": models.Item.id},
    filters={"done": equal_to(models.Item.done), "q": containing(models.Item.name)},
    scope=("bucket_id",),
)


def load_bucket(id: int, fields: dict | None = None, lock: bool = False) -> models.Bucket:
    """The caller's bucket list `id` or 404; see `api.policies.loaders.load_owned`.

    Its items are loaded only when `fields` show them.
    """
    return load_owned(models.Bucket, id, fields=fields, lock=lock, name="Bucket list")


def load_item(
    bucket_id: int, item_id: int, fields: dict | None = None, lock: bool = False
) -> models.Item:
    """Item `item_id` of the caller's bucket list `bucket_id`, or 404.

    A writer locks the bucket list first, then the item: the order in which deleting
    the list takes them, so the two never deadlock.
    """
    if lock:
        load_bucket(bucket_id, fields={}, lock=True)
    return load_owned(
        models.Item, item_id, fields=fields, lock=lock, name="Item", bucket_id=bucket_id
    )


@ns.route("/")
class BucketList(ProtectedResource):
    @ns.doc(description="Each bucket's `items` are left out unless the mask asks for them.")
    @ns.expect(bucket_list_args)
    @ns.marshal_list_with(bucket, default_mask=BUCKET_LIST_MASK)
    @ns.response(400, "Invalid query arguments", error_model)
    def get(self):
        """List the caller's bucket lists"""
        args = bucket_list_args.parse_args()
        shown = response_fields(bucket, BUCKET_LIST_MASK)
        return bucket_listing.page(args, shown, count=current_user().bucket_count)

    @ns.expect(bucket_input)
    @ns.marshal_with(bucket, code=201, description="Bucket list created")
    @ns.response(400, "Invalid bucket list", error_model)
    def post(self):
        """Create a bucket list"""
        # A new bucket list is empty: its items are known without asking the database.
        created = models.Bucket(
            user_id=current_user().id, items=[], **payload(bucket_input, replace=True)
        )
        return save_new(created, bucket["uri"])


@ns.route("/<int:id>")
@ns.param("id", "The bucket list's id")
@ns.response(404, "Bucket list not found", error_model)
class Bucket(ProtectedResource):
    @ns.marshal_with(bucket)
    def get(self, id):
        """Show a bucket list with its items"""
        return load_bucket(id, response_fields(bucket))

    @ns.expect(bucket_input)
    @ns.marshal_with(bucket)
    @ns.response(400, "Invalid bucket list", error_model)
    def put(self, id):
        """Replace a bucket list's name and description"""
        shown = response_fields(bucket)
        found = load_bucket(id, shown, lock=True)
        check_if_match(found, shown)
        return save_changes(found, payload(bucket_input, replace=True))

    @ns.expect(bucket_patch)
    @ns.marshal_with(bucket)
    @ns.response(400, "Invalid change", error_model)
    def patch(self, id):
        """Change some fields of a bucket list (JSON merge patch: null clears a field)"""
        shown = response_fields(bucket)
        found = load_bucket(id, shown, lock=True)
        check_if_match(found, shown)
        return save_changes(found, merge_patch(bucket_patch, bucket_input))

    @ns.response(204, "Bucket list and its items deleted")
    def delete(self, id):
        """Delete a bucket list and its items"""
        shown = response_fields(bucket)
        found = load_bucket(id, shown, lock=True)
        check_if_match(found, shown)
        # The database deletes the items (ON DELETE CASCADE), none of them loaded.
        db.session.execute(delete(models.Bucket).where(models.Bucket.id == found.id))
        return None, 204


@ns.route("/<int:id>/items/")
@ns.param("id", "The bucket list's id")
@ns.response(404, "Bucket list not found", error_model)
class ItemList(ProtectedResource):
    @ns.expect(item_list_args)
    @ns.marshal_list_with(item)
    @ns.response(400, "Invalid query arguments", error_model)
    def get(self, id):
        """List the items of a bucket list"""
        args = item_list_args.parse_args()
        found = load_bucket(id, fields={"item_count": bucket["item_count"]})
        return item_listing.page(args, response_fields(item), count=found.item_count, bucket_id=id)

    @ns.expect(item_input)
    @ns.marshal_with(item, code=201, description="Item created")
    @ns.response(400, "Invalid item", error_model)
    def post(self, id):
        """Add an item to a bucket list"""
        # Locked, so that a list being deleted meanwhile is a 404, not a broken reference.
        load_bucket(id, fields={}, lock=True)
        created = models.Item(
            bucket_id=id, user_id=current_user().id, **payload(item_input, replace=True)
        )
        return save_new(created, item["uri"])


@ns.route("/<int:id>/items/<int:item_id>")
@ns.param("id", "The bucket list's id")
@ns.param("item_id", "The item's id")
@ns.response(404, "Bucket list or item not found", error_model)
class Item(ProtectedResource):
    @ns.marshal_with(item)
    def get(self, id, item_id):
        """Show an item"""
        return load_item(id, item_id, response_fields(item))

    @ns.expect(item_input)
    @ns.marshal_with(item)
    @ns.response(400, "Invalid item", error_model)
    def put(self, id, item_id):
        """Replace an item"""
        found = load_item(id, item_id, lock=True)
        check_if_match(found, response_fields(item))
        return save_changes(found, payload(item_input, replace=True))

    @ns.expect(item_patch)
    @ns.marshal_with(item)
    @ns.response(400, "Invalid change", error_model)
    def patch(self, id, item_id):
        """Change some fields of an item (JSON merge patch: null clears a field)"""
        found = load_item(id, item_id, lock=True)
        check_if_match(found, response_fields(item))
        return save_changes(found, merge_patch(item_patch, item_input))

    @ns.response(204, "Item deleted")
    def delete(self, id, item_id):
        """Delete an item"""
        found = load_item(id, item_id, lock=True)
        check_if_match(found, response_fields(item))
        db.session.delete(found)
        return None, 204
