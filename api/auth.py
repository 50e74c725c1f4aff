"""Authentication: one mechanism, used by every protected resource.

A request proves who it is with an API key (`X-API-KEY: <key>`) or a bearer token
(`Authorization: Bearer <token>`). Both are looked up by their SHA-256 digest in the
database, so a revoked or expired credential is refused at once by every process.
"""

from typing import NamedTuple

from flask import g, request
from flask_restx.utils import merge
from sqlalchemy import select
from werkzeug.datastructures import WWWAuthenticate
from werkzeug.exceptions import Unauthorized

from api.errors import error_model
from api.idempotency import IDEMPOTENCY_HEADER, IDEMPOTENCY_PARAM, IN_PROGRESS, KEY_REUSED
from api.resource import Resource
from models import AccessToken, ApiKey, User, db, digest

API_KEY_HEADER = "X-API-KEY"
REALM = "todos-api"

authorizations = {
    "apikey": {"type": "apiKey", "in": "header", "name": API_KEY_HEADER},
    "bearer": {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "description": 'A token from `POST /auth/login`, sent as "Bearer &lt;token&gt;".',
    },
    "basic": {"type": "basic", "description": "Email and password, for `POST /auth/login` only."},
}
SECURITY = [{"apikey": []}, {"bearer": []}]


class Credential(NamedTuple):
    """Who made the request, and with what."""

    user: User
    kind: str  # "apikey" or "bearer"
    id: int


class AuthenticationFailed(Unauthorized):
    """401 with a challenge naming the scheme the client should use."""

    def __init__(self, description: str, scheme: str = "bearer"):
        super().__init__(description, www_authenticate=WWWAuthenticate(scheme, {"realm": REALM}))


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


def _lookup(model, secret: str):
    row = db.session.execute(
        select(model, User)
        .join(User, User.id == model.user_id)
        .where(model.digest == digest(secret))
    ).first()
    if row is None or not row[0].matches(secret):
        return None
    return row


def authenticate() -> Credential:
    """The credential of the current request, or 401."""
    key = request.headers.get(API_KEY_HEADER)
    if key:
        row = _lookup(ApiKey, key)
        if row is None:
            raise AuthenticationFailed("The API key is invalid or has been revoked.")
        return Credential(row[1], "apikey", row[0].id)
    token = bearer_token()
    if token:
        row = _lookup(AccessToken, token)
        if row is None or row[0].expired:
            raise AuthenticationFailed("The access token is invalid, expired or revoked.")
        return Credential(row[1], "bearer", row[0].id)
    raise AuthenticationFailed(
        f"Authentication required: send an {API_KEY_HEADER} header or an "
        "'Authorization: Bearer <token>' header."
    )


def current_credential() -> Credential:
    return g.credential


def current_user() -> User:
    return g.credential.user


class ProtectedResource(Resource):
    """A resource every method of which needs an API key or a bearer token."""

    __apidoc__ = merge(
        Resource.__apidoc__,
        {
            "security": SECURITY,
            "responses": {"401": ("Missing, invalid, expired or revoked credentials", error_model)},
            # Idempotent retries are kept per account, so only here.
            "post": {
                "params": {IDEMPOTENCY_HEADER: IDEMPOTENCY_PARAM},
                "responses": {
                    "409": (IN_PROGRESS, error_model),
                    "422": (KEY_REUSED, error_model),
                },
            },
        },
    )

    def dispatch_request(self, *args, **kwargs):
        # Before body validation: an anonymous caller learns nothing about the payload.
        g.credential = authenticate()
        return super().dispatch_request(*args, **kwargs)
