"""`PUBLIC_URL`: the one root every absolute URL is built on (`uri`, `Location`, `Link`).

Without it, Flask builds absolute URLs from the request: its `Host` header and scheme,
which a client chooses (or, with `TRUSTED_PROXIES`, the proxy's `X-Forwarded-*`). With
it, they come from the configuration, whatever the request says.
"""

from urllib.parse import urlsplit


def parse_public_url(url: str) -> tuple[str, str, str]:
    """`(scheme, host[:port], path prefix)` of a public URL; ValueError if it is unusable."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("PUBLIC_URL must be an http:// or https:// URL with a host")
    if parts.query or parts.fragment or "@" in parts.netloc:
        raise ValueError("PUBLIC_URL must have no query, fragment or user name")
    return parts.scheme, parts.netloc, parts.path.rstrip("/")


class PublicUrl:
    """WSGI middleware: the request's scheme, host and script root are those of `url`."""

    def __init__(self, app, url: str):
        self.app = app
        self.scheme, self.host, self.prefix = parse_public_url(url)

    def __call__(self, environ, start_response):
        environ["wsgi.url_scheme"] = self.scheme
        environ["HTTP_HOST"] = self.host
        environ["SCRIPT_NAME"] = self.prefix
        return self.app(environ, start_response)
