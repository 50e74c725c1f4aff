"""Authentication: one mechanism, used by every protected resource.

A request proves who it is with an API key (`X-API-KEY: <key>`) or a bearer token
(`Authorization: Bearer <token>`). Both are looked up by their SHA-256 digest in the
database, so a revoked or expired credential is refused at once by every process.
"""

import hmac
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from flask import g
from flask_restx.utils import merge
from sqlalchemy import bindparam, select
from werkzeug.datastructures import WWWAuthenticate
from werkzeug.exceptions import Unauthorized

from api.connections import read
from api.errors import error_model
from api.idempotency import IDEMPOTENCY_HEADER, IDEMPOTENCY_PARAM, IN_PROGRESS, KEY_REUSED
from api.requests import header
from api.resource import Resource
from models import AccessToken, ApiKey, User, digest, utcnow

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


@dataclass(frozen=True, slots=True)
class Principal:
    """The account behind a request: what handlers need of it, read with the credential."""

    id: int
    email: str
    created_at: datetime
    # Kept by the database (models.counts): unfiltered lists take their totals from here.
    todo_count: int
    bucket_count: int


class Credential(NamedTuple):
    """Who made the request, and with what."""

    user: Principal
    kind: str  # "apikey" or "bearer"
    id: int


# The columns of a Principal, in its order.
_ACCOUNT = (User.id, User.email, User.created_at, User.todo_count, User.bucket_count)


def _lookup_statement(model):
    # Plain columns, not ORM objects: one indexed row per request, built once per process.
    expires = (model.expires_at,) if model is AccessToken else ()
    return (
        select(model.id, model.digest, *expires, *_ACCOUNT)
        .join(User, User.id == model.user_id)
        .where(model.digest == bindparam("digest"))
    )


_LOOKUPS = {model: _lookup_statement(model) for model in (ApiKey, AccessToken)}


class AuthenticationFailed(Unauthorized):
    """401 with a challenge naming the scheme the client should use."""

    def __init__(self, description: str, scheme: str = "bearer"):
        super().__init__(description, www_authenticate=WWWAuthenticate(scheme, {"realm": REALM}))


def bearer_token() -> str | None:
    scheme, _, value = header("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


def _lookup(model, secret: str):
    """(credential id, its account, its expiry or None), or None for an unknown secret."""
    presented = digest(secret)
    rows = read(_LOOKUPS[model], {"digest": presented})
    if not rows or not hmac.compare_digest(rows[0][1], presented):
        return None
    row = rows[0]
    expires_at = row[2] if model is AccessToken else None
    return row[0], Principal(*row[-len(_ACCOUNT) :]), expires_at


def authenticate() -> Credential:
    """The credential of the current request, or 401."""
    key = header(API_KEY_HEADER)
    if key:
        found = _lookup(ApiKey, key)
        if found is None:
            raise AuthenticationFailed("The API key is invalid or has been revoked.")
        return Credential(found[1], "apikey", found[0])
    token = bearer_token()
    if token:
        found = _lookup(AccessToken, token)
        if found is None or found[2] <= utcnow():
            raise AuthenticationFailed("The access token is invalid, expired or revoked.")
        return Credential(found[1], "bearer", found[0])
    raise AuthenticationFailed(
        f"Authentication required: send an {API_KEY_HEADER} header or an "
        "'Authorization: Bearer <token>' header."
    )


def current_credential() -> Credential:
    return g.credential


def current_user() -> Principal:
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
