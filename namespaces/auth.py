"""Accounts, bearer tokens and API keys."""

from flask import current_app, request, url_for
from flask_restx import abort, fields
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from werkzeug.security import check_password_hash, generate_password_hash

from api.extensions import password_checked, password_guard
from api.plumbing.errors import error_model
from api.policies.authentication import (
    AuthenticationFailed,
    ProtectedResource,
    current_credential,
    current_user,
)
from api.policies.conditional import check_if_match
from api.policies.loaders import load_owned
from api.policies.pagination import Listing, list_parser
from api.policies.transactions import begin_writing
from api.rest.masks import response_fields
from api.rest.namespace import Namespace
from api.rest.resource import Resource
from api.rest.resource_models import ResourceUrl, payload, save_new
from models import AccessToken, ApiKey, User, db, utcnow
from models.sync import delete_account
from models.user import ALL_SCOPES, EMAIL_DOMAIN_RULE, WRITE

ns = Namespace("auth", description="Accounts, bearer tokens and API keys")


class Email(fields.String):
    __schema_format__ = "email"


user = ns.model(
    "User",
    {
        "id": fields.Integer(readonly=True),
        "email": Email(readonly=True, example="ada@example.com"),
        "created_at": fields.DateTime(readonly=True),
    },
)
MAX_PASSWORD = 1024


def new_password(example: str) -> fields.String:
    """A password an account gets: the rules of registration."""
    return fields.String(
        required=True,
        min_length=User.PASSWORD_MIN_LENGTH,
        max_length=MAX_PASSWORD,
        example=example,
    )


def given_password() -> fields.String:
    """A password checked against the account's: any text that could be one."""
    return fields.String(required=True, min_length=1, max_length=MAX_PASSWORD)


credentials = ns.model(
    "Credentials",
    {
        "email": Email(
            required=True, max_length=254, pattern=EMAIL_DOMAIN_RULE, example="ada@example.com"
        ),
        "password": new_password("correct horse battery"),
    },
)
# Logging in only looks the email up: any text is a 401 unless it is an account's.
login_body = ns.clone(
    "Login",
    credentials,
    {
        "email": fields.String(
            required=True, min_length=1, max_length=254, example="ada@example.com"
        )
    },
)
token = ns.model(
    "AccessToken",
    {
        "access_token": fields.String(required=True),
        "token_type": fields.String(required=True, example="Bearer"),
        "expires_in": fields.Integer(required=True, description="Seconds until it expires"),
    },
)
# A key lives at most this long when it is given a lifetime (a year); without one it lives
# until revoked.
MAX_KEY_TTL = 366 * 86_400
key_input = ns.model(
    "ApiKeyInput",
    {
        "name": fields.String(required=True, min_length=1, max_length=100, example="laptop"),
        "scopes": fields.List(
            fields.String(enum=list(ALL_SCOPES)),
            min_items=1,
            max_items=2,
            unique=True,
            example=list(ALL_SCOPES),
            description='["read"]: the key may only read; ["read", "write"] (the default): '
            'it may do everything the account may. A key that writes also reads: ["write"] '
            'is ["read", "write"]',
        ),
        "expires_in": fields.Integer(
            min=1,
            max=MAX_KEY_TTL,
            example=30 * 86_400,
            description=f"Seconds until the key stops working (at most {MAX_KEY_TTL:,}); "
            "left out, it works until revoked",
        ),
    },
)
KEY_SCOPES = fields.List(fields.String(enum=list(ALL_SCOPES)), readonly=True)
KEY_SCOPES.depends_on = ("scope",)  # shown from the stored column (api.rest.masks)
key = ns.model(
    "ApiKey",
    {
        "id": fields.Integer(readonly=True),
        "name": fields.String(readonly=True),
        "prefix": fields.String(readonly=True, description="The first characters of the key"),
        "scopes": KEY_SCOPES,
        "created_at": fields.DateTime(readonly=True),
        "expires_at": fields.DateTime(
            readonly=True, nullable=True, description="When it stops working; null: never"
        ),
        "last_used_at": fields.DateTime(
            readonly=True,
            nullable=True,
            description="When it was last used, to the minute; null: never",
        ),
    },
)
new_key = ns.clone(
    "NewApiKey",
    key,
    {"key": fields.String(readonly=True, description="The secret, shown this once only")},
)
key_list_args = list_parser("id")
key_listing = Listing(ApiKey, {"id": ApiKey.id})
KEY_URL = ResourceUrl("api.auth_key")

WRONG_CREDENTIALS = "Wrong email or password."


def load_api_key(id: int, fields: dict | None = None, lock: bool = False) -> ApiKey:
    """The caller's API key `id` or 404; see `api.policies.loaders.load_owned`."""
    return load_owned(ApiKey, id, fields=fields, lock=lock, name="API key")


def password_method() -> str:
    return current_app.config.get("PASSWORD_HASH_METHOD", "scrypt")


def verify_login(email: str, password: str) -> User:
    """The account these credentials open, or 401 that says nothing of which was wrong."""
    found = db.session.scalars(select(User).where(User.email == User.normalize_email(email)))
    account = found.first()
    if account is None:
        # Spend the time a real check takes, so timing does not tell which emails exist.
        check_password_hash(_dummy_hash(), password)
        raise AuthenticationFailed(WRONG_CREDENTIALS, scheme="basic")
    if not account.check_password(password):
        raise AuthenticationFailed(WRONG_CREDENTIALS, scheme="basic")
    return account


_dummy_hashes: dict[str, str] = {}


def _dummy_hash() -> str:
    method = password_method()
    if method not in _dummy_hashes:
        _dummy_hashes[method] = generate_password_hash("not a password", method=method)
    return _dummy_hashes[method]


@ns.route("/register")
class Register(Resource):
    decorators = [password_guard]

    @ns.expect(credentials)
    @ns.marshal_with(user, code=201, description="Account created")
    @ns.response(400, "Invalid email or password", error_model)
    @ns.response(409, "Email already registered", error_model)
    def post(self):
        """Create an account"""
        data = payload(credentials)
        try:
            email = User.validated_email(data["email"])
        except ValueError as error:
            abort(400, "Input payload validation failed", errors={"email": str(error)})
        account = User(email=email)
        account.set_password(data["password"], password_method())
        db.session.add(account)
        try:
            db.session.flush()
        except IntegrityError:
            db.session.rollback()
            abort(409, "An account with this email already exists.")
        return account, 201, {"Location": url_for("api.auth_me", _external=True)}


@ns.route("/login")
class Login(Resource):
    decorators = [password_guard]

    @ns.doc(
        description="Send `{email, password}` as JSON, or the same as HTTP Basic credentials.",
        # Basic credentials or a body: either one, so HTTP Basic is optional ({}).
        security=[{"basic": []}, {}],
        # With HTTP Basic credentials the body is not needed.
        params={"payload": {"required": False}},
    )
    @ns.expect(login_body, validate=False)
    @ns.marshal_with(
        token,
        description="A bearer token for the Authorization header",
        must_show=("access_token",),
    )
    @ns.response(400, "Missing or malformed credentials", error_model)
    @ns.response(401, "Wrong email or password", error_model)
    def post(self):
        """Exchange an email and password for a bearer token"""
        basic = request.authorization
        basic = basic if basic is not None and basic.type == "basic" else None
        if request.content_length or basic is None:
            # A body is checked whenever one is sent; none at all (and no Basic
            # credentials) is no credentials.
            login_body.validate(request.get_json() if request.content_length else None)
            data = payload(login_body)
            email, password = data["email"], data["password"]
        if basic is not None:  # the credentials checked, a body or not
            email, password = basic.username or "", basic.password or ""
        account = verify_login(email, password)
        ttl = current_app.config["TOKEN_TTL"]
        db.session.execute(
            delete(AccessToken).where(
                AccessToken.user_id == account.id, AccessToken.expires_at <= utcnow()
            )
        )
        issued, secret = AccessToken.issue(account, ttl)
        db.session.add(issued)
        return {"access_token": secret, "token_type": "Bearer", "expires_in": ttl}


@ns.route("/logout")
class Logout(ProtectedResource):
    # It revokes the bearer token that makes the call, so that is the one credential it takes.
    credential_kinds = frozenset({"bearer"})
    other_credential = (
        "Logout takes the bearer token it revokes; revoke an API key with DELETE /auth/keys/{id}."
    )

    @ns.doc(security=[{"bearer": []}])
    @ns.response(204, "Token revoked")
    def post(self):
        """Revoke the bearer token that makes this call"""
        token = current_credential().id
        db.session.execute(delete(AccessToken).where(AccessToken.id == token))
        return None, 204


password_change = ns.model(
    "PasswordChange",
    {
        "current_password": given_password(),
        "new_password": new_password("a longer passphrase"),
    },
)
account_deletion = ns.model(
    "AccountDeletion",
    {"password": given_password()},
)


def check_own_password(password: str, lock: bool = False) -> User:
    """The caller's account when `password` is its password; else 403 (the credential is
    valid: the password is what is refused). With `lock`, the row is locked for a change
    of its own columns (FOR NO KEY UPDATE), which rows referring to it do not wait for."""
    statement = select(User).where(User.id == current_user().id)
    if lock:
        begin_writing()
        statement = statement.with_for_update(key_share=True)
    account = db.session.scalars(statement).first()
    if account is None or not account.check_password(password):
        abort(403, "The password is wrong: nothing was changed.")
    return account


@ns.route("/me")
class Me(ProtectedResource):
    @ns.marshal_with(user)
    def get(self):
        """Show the caller's account"""
        return current_user()

    @ns.expect(password_change)
    @ns.response(204, "Password changed; every bearer token of the account revoked")
    @ns.response(400, "Invalid password, or the new one equals the old", error_model)
    @ns.response(403, "The current password is wrong", error_model)
    @password_checked  # guessing the password meets the limit guessing a login does
    def patch(self):
        """Change the password; every bearer token of the account stops working at once"""
        data = payload(password_change)
        account = check_own_password(data["current_password"], lock=True)
        check_if_match(account, response_fields(user))
        if account.check_password(data["new_password"]):
            abort(
                400,
                "Input payload validation failed",
                errors={"new_password": "It is the current password: choose another."},
            )
        account.set_password(data["new_password"], password_method())
        db.session.execute(delete(AccessToken).where(AccessToken.user_id == account.id))
        return None, 204

    @ns.expect(account_deletion)
    @ns.response(204, "Account and everything it owns deleted")
    @ns.response(400, "No password given", error_model)
    @ns.response(403, "The password is wrong", error_model)
    @password_checked
    def delete(self):
        """Delete the account and everything it owns, its bucket lists for every member;
        every key and token of it stops working at once"""
        if not request.content_length:
            abort(400, "Input payload validation failed", errors={"password": "Required."})
        # Not locked here: deleting takes its locks in the order writes take theirs.
        account = check_own_password(payload(account_deletion)["password"])
        # The account's representation never changes (id, email, creation), so the
        # precondition needs no lock of its own.
        check_if_match(account, response_fields(user))
        delete_account(db.session, account.id)
        return None, 204


@ns.route("/keys/")
class KeyList(ProtectedResource):
    secret_response = True

    @ns.expect(key_list_args)
    @ns.marshal_list_with(key)
    @ns.response(400, "Invalid query arguments", error_model)
    def get(self):
        """List the caller's API keys (never their secrets)"""
        return key_listing.page(key_list_args.parse_args(), response_fields(key))

    @ns.expect(key_input)
    @ns.marshal_with(
        new_key,
        code=201,
        description="Key created; its secret is shown only now",
        must_show=("key",),
    )
    @ns.response(400, "Invalid name", error_model)
    def post(self):
        """Create an API key, which may only read, or read and write, and may expire"""
        data = payload(key_input)
        # A key that writes also reads: ["write"] is ["read", "write"].
        scopes = data.get("scopes") or list(ALL_SCOPES)
        if WRITE in scopes:
            scopes = list(ALL_SCOPES)
        credential = current_credential()
        # A key made with an expiring key expires with it at the latest: a leaked key
        # cannot make itself a lasting one.
        not_after = None
        if credential.kind == "apikey":
            not_after = db.session.scalar(
                select(ApiKey.expires_at).where(ApiKey.id == credential.id)
            )
        created, secret = ApiKey.issue(
            credential.user,
            data["name"],
            scopes=scopes,
            ttl=data.get("expires_in"),
            not_after=not_after,
        )
        _, status, headers = save_new(created, KEY_URL)
        response = {
            "id": created.id,
            "name": created.name,
            "prefix": created.prefix,
            "scopes": created.scopes,
            "key": secret,
            "created_at": created.created_at,
            "expires_at": created.expires_at,
            "last_used_at": None,
        }
        return response, status, headers


@ns.route("/keys/<int:id>")
@ns.param("id", "The key's id")
@ns.response(404, "API key not found", error_model)
class Key(ProtectedResource):
    @ns.marshal_with(key)
    def get(self, id):
        """Show one of the caller's API keys"""
        return load_api_key(id, response_fields(key))

    @ns.response(204, "Key revoked")
    def delete(self, id):
        """Revoke an API key"""
        found = load_api_key(id, lock=True)
        check_if_match(found, response_fields(key))
        db.session.delete(found)
        return None, 204
