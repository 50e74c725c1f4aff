"""Bucket lists: named lists of things to do some day, each holding items."""

from flask_restx import fields, inputs
from sqlalchemy.orm.attributes import set_committed_value

import models
from api.auth import ProtectedResource, current_user
from api.errors import error_model
from api.inputs import payload, resource_models, save_changes, save_new, text
from api.masks import NOTHING, Wanted, load_wanted
from api.namespace import Namespace
from api.ownership import get_owned_or_404, read_owned_or_404
from api.pagination import Listing, containing, equal_to, list_parser
from api.urls import ResourceUrl
from models import db

ns = Namespace("bucketlist", path="/bucketlists", description="The caller's bucket lists")

item_input, item_patch, item = resource_models(
    ns,
    "Item",
    {
        "name": text(200, "See the aurora", required=True),
        "description": text(10000, "From Tromsø"),
        "done": fields.Boolean(default=False),
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


# A bucket's kept count of items, for the item list's X-Total-Count.
ITEM_COUNT = Wanted(columns=(models.Bucket.item_count,))
# Only whether the bucket is the caller's.
EXISTS = Wanted(columns=(models.Bucket.id,))


def find_bucket(id: int, wanted: Wanted = NOTHING) -> models.Bucket:
    return get_owned_or_404(models.Bucket, id, wanted=wanted, name="Bucket list")


def read_bucket(id: int, wanted: Wanted):
    return read_owned_or_404(models.Bucket, id, wanted, name="Bucket list")


def find_item(bucket_id: int, item_id: int, wanted: Wanted = NOTHING) -> models.Item:
    read_bucket(bucket_id, EXISTS)
    return get_owned_or_404(models.Item, item_id, wanted=wanted, name="Item", bucket_id=bucket_id)


def read_item(bucket_id: int, item_id: int, wanted: Wanted):
    read_bucket(bucket_id, EXISTS)
    return read_owned_or_404(models.Item, item_id, wanted, name="Item", bucket_id=bucket_id)


@ns.route("/")
class BucketList(ProtectedResource):
    @ns.doc(description="Each bucket's `items` are left out unless the mask asks for them.")
    @ns.expect(bucket_list_args)
    @ns.marshal_list_with(bucket, default_mask=BUCKET_LIST_MASK)
    @ns.response(400, "Invalid query arguments", error_model)
    def get(self):
        """List the caller's bucket lists"""
        return bucket_listing.page(
            bucket_list_args.parse_args(),
            load_wanted(models.Bucket),
            count=current_user().bucket_count,
        )

    @ns.expect(bucket_input, validate=True)
    @ns.marshal_with(bucket, code=201, description="Bucket list created")
    @ns.response(400, "Invalid bucket list", error_model)
    def post(self):
        """Create a bucket list"""
        created = models.Bucket(user_id=current_user().id, **payload(bucket_input, replace=True))
        response = save_new(created, bucket["uri"])
        # A new bucket is empty: say so without asking the database. (Its item_count,
        # 0, came back with the INSERT.)
        set_committed_value(created, "items", [])
        return response


@ns.route("/<int:id>")
@ns.param("id", "The bucket list's id")
@ns.response(404, "Bucket list not found", error_model)
class Bucket(ProtectedResource):
    @ns.marshal_with(bucket)
    def get(self, id):
        """Show a bucket list with its items"""
        return read_bucket(id, load_wanted(models.Bucket))

    @ns.expect(bucket_input, validate=True)
    @ns.marshal_with(bucket)
    @ns.response(400, "Invalid bucket list", error_model)
    def put(self, id):
        """Replace a bucket list's name and description"""
        return save_changes(
            find_bucket(id, load_wanted(models.Bucket)), payload(bucket_input, replace=True)
        )

    @ns.expect(bucket_patch, validate=True)
    @ns.marshal_with(bucket)
    @ns.response(400, "Invalid change", error_model)
    def patch(self, id):
        """Change some fields of a bucket list"""
        return save_changes(find_bucket(id, load_wanted(models.Bucket)), payload(bucket_patch))

    @ns.response(204, "Bucket list and its items deleted")
    def delete(self, id):
        """Delete a bucket list and its items"""
        db.session.delete(find_bucket(id))
        db.session.commit()
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
        bucket = read_bucket(id, ITEM_COUNT)
        return item_listing.page(
            args, load_wanted(models.Item), count=bucket["item_count"], bucket_id=id
        )

    @ns.expect(item_input, validate=True)
    @ns.marshal_with(item, code=201, description="Item created")
    @ns.response(400, "Invalid item", error_model)
    def post(self, id):
        """Add an item to a bucket list"""
        read_bucket(id, EXISTS)
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
        return read_item(id, item_id, load_wanted(models.Item))

    @ns.expect(item_input, validate=True)
    @ns.marshal_with(item)
    @ns.response(400, "Invalid item", error_model)
    def put(self, id, item_id):
        """Replace an item"""
        return save_changes(find_item(id, item_id), payload(item_input, replace=True))

    @ns.expect(item_patch, validate=True)
    @ns.marshal_with(item)
    @ns.response(400, "Invalid change", error_model)
    def patch(self, id, item_id):
        """Change some fields of an item"""
        return save_changes(find_item(id, item_id), payload(item_patch))

    @ns.response(204, "Item deleted")
    def delete(self, id, item_id):
        """Delete an item"""
        db.session.delete(find_item(id, item_id))
        db.session.commit()
        return None, 204
