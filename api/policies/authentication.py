"""Authentication: who makes a request, one mechanism for every protected resource.

A request proves who it is with an API key (`X-API-KEY: <key>`) or a bearer token
(`Authorization: Bearer <token>`). Both are looked up by their SHA-256 digest in the
database on every request, so a revoked or expired credential is refused at once by
every process. A request with both is refused: two credentials may name two accounts.
The credential is resolved once per request and kept on `g`, as Flask keeps the current
user: the rate limiter counts by its account; `refuse_anonymous`, the blueprint's first
hook, refuses a protected resource's request without one before anything reads its body;
`mark_private` keeps shared caches away from every answer to one.

A bearer token may do everything its account may; an API key has scopes, `read` or
`read write`: `refuse_anonymous` refuses a read-only key every write (403) as early as it
refuses a missing credential. A key may expire, which the lookup checks, and its
`last_used_at` is written at most once a minute (`note_key_use`).
"""

import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NamedTuple

from flask import current_app, g, request
from flask_restx.utils import merge
from sqlalchemy import bindparam, literal, null, or_, select, update
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.datastructures import WWWAuthenticate
from werkzeug.exceptions import Forbidden, Unauthorized

from api.plumbing.errors import error_model
from api.policies.idempotency import (
    IDEMPOTENCY_HEADER,
    IDEMPOTENCY_PARAM,
    IN_PROGRESS,
    KEY_REUSED,
    idempotent,
)
from api.policies.transactions import read_connection
from api.rest.resource import WRITES, Resource
from models import AccessToken, ApiKey, User, db, digest, utcnow
from models.user import ALL_SCOPES, WRITE

API_KEY_HEADER = "X-API-KEY"
REALM = "todos-api"

authorizations = {
    "apikey": {
        "type": "apiKey",
        "in": "header",
        "name": API_KEY_HEADER,
        "description": "A key from `POST /auth/keys/`. A key with the scopes `[read]` may "
        "only read: every operation whose `x-required-scope` is `write` (POST, PUT, PATCH, "
        "DELETE) answers it 403. A key may expire (`expires_in`).",
    },
    "bearer": {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "description": 'A token from `POST /auth/login`, sent as "Bearer &lt;token&gt;".',
    },
    "basic": {"type": "basic", "description": "Email and password, for `POST /auth/login` only."},
}
SECURITY = [{"apikey": []}, {"bearer": []}]

MISSING = (
    f"Authentication required: send an {API_KEY_HEADER} header or an "
    "'Authorization: Bearer <token>' header."
)
INVALID_KEY = "The API key is invalid, expired or revoked."
READ_ONLY = (
    "This API key may only read (its scopes are [read]): writing needs a key with the "
    "write scope, or a bearer token."
)
# How stale a key's last_used_at may get before a request writes it again.
KEY_USE_RESOLUTION = timedelta(minutes=1)
INVALID_TOKEN = "The access token is invalid, expired or revoked."  # noqa: S105 (a message)
TWO_CREDENTIALS = f"Send one credential, an {API_KEY_HEADER} header or a bearer token, not both."
# Responses to a credential are the caller's own: no shared cache may keep them, and a
# private one must tell them apart by credential and by mask.
PRIVATE_VARY = (API_KEY_HEADER, "Authorization", "X-Fields")


@dataclass(frozen=True, slots=True)
class Principal:
    """The account behind a request: what handlers need of it, read with the credential.

    Plain values, not an ORM object: they stay readable whatever the session does later
    in the request (a rollback expires ORM objects).
    """

    id: int
    email: str
    created_at: datetime
    # Kept by the database (models.counts): unfiltered lists take their totals from here.
    todo_count: int
    bucket_count: int


class Credential(NamedTuple):
    """Who made the request, and with what: its kind, its id, what it may do, and (a
    key) when it was last used as far as the record says."""

    user: Principal
    kind: str  # "apikey" or "bearer"
    id: int
    scopes: frozenset = frozenset(ALL_SCOPES)
    last_used_at: datetime | None = None


class Authentication(NamedTuple):
    """What the request's credentials prove: a `credential`, or else why not (`refusal`)."""

    credential: Credential | None
    refusal: str | None = None


class AuthenticationFailed(Unauthorized):
    """401 with a challenge naming the scheme the client should use."""

    def __init__(self, description: str, scheme: str = "bearer"):
        super().__init__(description, www_authenticate=WWWAuthenticate(scheme, {"realm": REALM}))


def bearer_token() -> str | None:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


ACCOUNT = (User.id, User.email, User.created_at, User.todo_count, User.bucket_count)


def _lookup_statement(model):
    """The account behind a credential of `model`, by its digest (bound as `digest`).

    Built once: a request binds the digest and nothing else.
    """
    live = model.expires_at > bindparam("now")
    if model is ApiKey:
        # A key may never expire; what it may do and when it was last used come with it.
        live = or_(ApiKey.expires_at.is_(None), live)
        extra = (ApiKey.scope, ApiKey.last_used_at)
    else:
        extra = (literal(" ".join(ALL_SCOPES)).label("scope"), null().label("last_used_at"))
    return (
        select(model.id.label("credential_id"), model.digest, *ACCOUNT, *extra)
        .join(User, User.id == model.user_id)
        .where(model.digest == bindparam("digest"), live)
    )


LOOKUPS = {model: _lookup_statement(model) for model in (ApiKey, AccessToken)}


def _lookup(model, secret: str, kind: str) -> Credential | None:
    """The live credential of `model` (ApiKey or AccessToken) behind `secret`, or None."""
    presented = digest(secret)
    # Plain columns, so the session's connection answers, without the ORM's execution. A
    # request's first read: in autocommit mode for a GET on PostgreSQL.
    connection = read_connection()
    row = connection.execute(LOOKUPS[model], {"digest": presented, "now": utcnow()}).first()
    if row is None or not hmac.compare_digest(row.digest, presented):
        return None
    account = Principal(*(getattr(row, column.key) for column in ACCOUNT))
    scopes = frozenset(row.scope.split())
    return Credential(account, kind, row.credential_id, scopes, row.last_used_at)


def _authenticate() -> Authentication:
    key = request.headers.get(API_KEY_HEADER)
    token = bearer_token()
    if key and token:
        # Two credentials could belong to two accounts: which one speaks is no guess to make.
        return Authentication(None, TWO_CREDENTIALS)
    if key:
        found = _lookup(ApiKey, key, "apikey")
        return Authentication(found, None if found else INVALID_KEY)
    if token:
        found = _lookup(AccessToken, token, "bearer")
        return Authentication(found, None if found else INVALID_TOKEN)
    return Authentication(None, MISSING)


def authentication() -> Authentication:
    """What the current request's credentials prove, looked up once per request."""
    if "authentication" not in g:
        g.authentication = _authenticate()
    return g.authentication


def authenticated() -> Credential | None:
    """The current request's valid credential, or None (none sent, or not a valid one)."""
    return authentication().credential


def require_credential() -> Credential:
    """The current request's credential, or 401 saying what is wrong with it."""
    found = authentication()
    if found.credential is None:
        raise AuthenticationFailed(found.refusal)
    return found.credential


def refuse_anonymous() -> None:
    """401 for a request to a protected resource without a valid credential, before any
    other check looks at it (its body included): a stranger learns nothing more."""
    if request.method == "OPTIONS":
        return
    view = current_app.view_functions.get(request.endpoint or "")
    resource = getattr(view, "view_class", None)
    if isinstance(resource, type) and issubclass(resource, ProtectedResource):
        credential = require_credential()
        if credential.kind not in resource.credential_kinds:
            raise AuthenticationFailed(resource.other_credential)
        # A read-only key is refused a write as early, before anything reads the body.
        if request.method in WRITES and WRITE not in credential.scopes:
            raise Forbidden(READ_ONLY)


def note_key_use(response):
    """Record when the request's API key was used (`last_used_at`), at most once a minute
    per key: most requests find the record recent enough and write nothing. The write is
    its own short transaction, after the request's; failing it fails nothing."""
    credential = authenticated()
    if credential is None or credential.kind != "apikey":
        return response
    now = utcnow()
    if credential.last_used_at is not None and now - credential.last_used_at < KEY_USE_RESOLUTION:
        return response
    stale = or_(ApiKey.last_used_at.is_(None), ApiKey.last_used_at < now - KEY_USE_RESOLUTION)
    try:
        with db.engine.begin() as connection:
            connection.execute(
                update(ApiKey).where(ApiKey.id == credential.id, stale).values(last_used_at=now)
            )
    except SQLAlchemyError:
        current_app.logger.warning("Could not record the use of API key %s", credential.id)
    return response


def mark_private(response):
    """`Cache-Control: private` and `Vary` on every answer to a request with a credential."""
    if authenticated() is not None:
        response.headers.setdefault("Cache-Control", "private")
        response.vary.update(PRIVATE_VARY)
    return response


def current_credential() -> Credential:
    return require_credential()


def current_user() -> Principal:
    """The account making the current request (401 without one)."""
    return require_credential().user


class ProtectedResource(Resource):
    """A resource every method of which needs an API key or a bearer token: the
    blueprint's `refuse_anonymous` refuses a request without one before anything else."""

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

    # The kinds of credential the resource takes ("apikey", "bearer"); another is a 401
    # that says `other_credential`. The spec's `security` must name the same ones.
    credential_kinds = frozenset({"apikey", "bearer"})
    other_credential = ""

    def write(self, handler):
        """A POST runs at most once per `Idempotency-Key` of the caller's account."""
        if request.method == "POST":
            return idempotent(handler, current_user().id, secret=self.secret_response)
        return handler()
