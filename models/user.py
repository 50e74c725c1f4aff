"""Accounts and the credentials that authenticate them."""

import hashlib
import secrets
from datetime import datetime, timedelta

from email_validator import SPECIAL_USE_DOMAIN_NAMES, validate_email
from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column
from werkzeug.security import check_password_hash, generate_password_hash

from .base import db, utcnow
from .counts import count_column

API_KEY_PREFIX = "tdk_"


def digest(secret: str) -> str:
    """The SHA-256 hex digest under which a token or key is stored."""
    return hashlib.sha256(secret.encode()).hexdigest()


def _any_case(word: str) -> str:
    return "".join(f"[{letter}{letter.upper()}]" for letter in word)


# The domain rules of `User.validated_email` as a pattern: a dot, a last label ending in
# a letter, and neither a special-use name nor a name under one (ECMA-262 has no flag for
# case, so each letter of those is a class).
EMAIL_DOMAIN_RULE = (
    r"^(?![^@]*@(?:[^@]*\.)?(?:"
    + "|".join(_any_case(name) for name in SPECIAL_USE_DOMAIN_NAMES)
    + r")$)[^@]*@[^@]*\.[^@]*[A-Za-z]$"
)


class User(db.Model):
    __tablename__ = "users"
    PASSWORD_MIN_LENGTH = 8

    id: Mapped[int] = mapped_column(primary_key=True)
    # Stored lower-cased, so the unique index makes emails unique case-insensitively.
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(256))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    todo_count: Mapped[int] = count_column()
    bucket_count: Mapped[int] = count_column()

    @staticmethod
    def normalize_email(email: str) -> str:
        return email.strip().lower()

    @classmethod
    def validated_email(cls, email: str) -> str:
        """`email` as an account stores it; `ValueError` says why it is not an address:
        not an address, or not at a domain that could receive mail (no dot, a last label
        that does not end in a letter, or a special-use name such as `.localhost`). The
        spec states the domain's rules as `EMAIL_DOMAIN_RULE`.
        """
        # EmailNotValidError is a ValueError, with a message fit to show the user.
        checked = validate_email(email, check_deliverability=False).normalized
        return cls.normalize_email(checked)

    def set_password(self, password: str, method: str = "scrypt") -> None:
        self.password_hash = generate_password_hash(password, method=method)

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)


class _Credential:
    """A secret shown once to its owner and kept only as a digest."""

    id: Mapped[int] = mapped_column(primary_key=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


# What a credential may do: read, or read and write. A bearer token may do both.
READ, WRITE = "read", "write"
ALL_SCOPES = (READ, WRITE)


class ApiKey(_Credential, db.Model):
    __tablename__ = "api_keys"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(16))
    # Space-separated, as OAuth writes scopes: "read" or "read write".
    scope: Mapped[str] = mapped_column(String(20), server_default=" ".join(ALL_SCOPES))
    expires_at: Mapped[datetime | None]
    # Kept at most once a minute (api.policies.authentication.note_key_use).
    last_used_at: Mapped[datetime | None]

    @property
    def scopes(self) -> list[str]:
        return self.scope.split()

    @classmethod
    def issue(
        cls,
        user: User,
        name: str,
        scopes=ALL_SCOPES,
        ttl: int | None = None,
        not_after: datetime | None = None,
    ) -> tuple["ApiKey", str]:
        """A new key for `user` with these `scopes`, valid for `ttl` seconds (None: until
        revoked) but never past `not_after` (when given), and its secret, which is not
        stored anywhere."""
        secret = API_KEY_PREFIX + secrets.token_urlsafe(32)
        now = utcnow()
        expires_at = None if ttl is None else now + timedelta(seconds=ttl)
        if not_after is not None and (expires_at is None or expires_at > not_after):
            expires_at = not_after
        key = cls(
            user_id=user.id,
            name=name,
            prefix=secret[:12],
            digest=digest(secret),
            scope=" ".join(scope for scope in ALL_SCOPES if scope in scopes),
            created_at=now,
            expires_at=expires_at,
        )
        return key, secret


class AccessToken(_Credential, db.Model):
    __tablename__ = "access_tokens"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    expires_at: Mapped[datetime] = mapped_column(index=True)

    @classmethod
    def issue(cls, user: User, ttl: int) -> tuple["AccessToken", str]:
        """A new bearer token for `user` valid for `ttl` seconds, and its secret."""
        secret = secrets.token_urlsafe(32)
        now = utcnow()
        token = cls(
            user_id=user.id,
            digest=digest(secret),
            created_at=now,
            expires_at=now + timedelta(seconds=ttl),
        )
        return token, secret
