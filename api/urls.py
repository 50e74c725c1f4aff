"""Absolute URLs of resources, for the `uri` field of every representation."""

from flask import url_for
from flask_restx import fields
from flask_restx.fields import get_value


class ResourceUrl(fields.Url):
    """`fields.Url` whose URL arguments are named object attributes.

    `ResourceUrl("api.bucketlist_item", id="bucket_id", item_id="id")` builds the item's
    URL from its `bucket_id` and `id`.
    """

    __schema_format__ = "uri"

    def __init__(self, endpoint: str, **arguments: str):
        super().__init__(endpoint, absolute=True, readonly=True)
        self.arguments = arguments or {"id": "id"}

    @property
    def depends_on(self) -> tuple[str, ...]:
        """The attributes the URL is built from, which must be loaded."""
        return tuple(self.arguments.values())

    def output(self, key, obj, **kwargs):
        values = {name: get_value(attribute, obj) for name, attribute in self.arguments.items()}
        return url_for(self.endpoint, _external=True, **values)
