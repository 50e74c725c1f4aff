"""Absolute URLs of resources, for the `uri` field of every representation."""

from collections.abc import Callable

from flask import request, url_for
from flask_restx import fields
from flask_restx.fields import get_value

from api.caches import BoundedCache


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
        return self.getter()(obj)

    def request_key(self) -> str:
        """What the URLs depend on in the current request: `getter()` is the same
        function for every request with the same key."""
        return self._template()

    def getter(self) -> Callable[[object], str]:
        """A function from an object to its URL, for the current request."""
        template = self._template()
        replacements = tuple(
            (_placeholder(name), attribute, "." in attribute)
            for name, attribute in self.arguments.items()
        )

        def url(obj) -> str:
            text = template
            is_dict = isinstance(obj, dict)
            for placeholder, attribute, dotted in replacements:
                if dotted:
                    value = get_value(attribute, obj)
                elif is_dict:
                    value = obj.get(attribute)
                else:
                    value = getattr(obj, attribute)
                text = text.replace(placeholder, str(value))
            return text

        return url

    def _template(self) -> str:
        """The endpoint's absolute URL for this request's root, with a placeholder per argument.

        The root (scheme, host, script path) comes from the request, so templates are
        kept per root: built once, not once per request or per object. The host is the
        client's to choose, so the number kept is bounded.
        """
        return _templates.get((self.endpoint, *_request_root()), self._build_template)

    def _build_template(self) -> str:
        placeholders = {name: _PLACEHOLDER_BASE + i for i, name in enumerate(self.arguments)}
        template = url_for(self.endpoint, _external=True, **placeholders)
        for name, value in placeholders.items():
            template = template.replace(f"/{value}", f"/{_placeholder(name)}")
        return template


def base_url() -> str:
    """`request.base_url`, worked out once per root and path rather than on every request."""
    key = (*_request_root(), request.environ.get("PATH_INFO"))
    return _base_urls.get(key, lambda: request.base_url)


# What an absolute URL's root is made of, as the WSGI environ gives it (after ProxyFix).
_ROOT_KEYS = ("wsgi.url_scheme", "HTTP_HOST", "SERVER_NAME", "SERVER_PORT", "SCRIPT_NAME")
_templates = BoundedCache(256)
_base_urls = BoundedCache(1024)
# Ids no database row will have, swapped for named markers once the URL is built.
_PLACEHOLDER_BASE = 7_919_000_001


def _request_root() -> tuple:
    """The request's root, as the values of `_ROOT_KEYS`."""
    return tuple(map(request.environ.get, _ROOT_KEYS))


def _placeholder(name: str) -> str:
    return "{" + name + "}"
