"""SQLAlchemy models, one module per aggregate."""

from .base import db, utcnow
from .bucket import Bucket, Item
from .idempotency import IdempotencyKey
from .todo import Todo
from .user import AccessToken, ApiKey, User, digest

__all__ = [
    "AccessToken",
    "ApiKey",
    "Bucket",
    "IdempotencyKey",
    "Item",
    "Todo",
    "User",
    "db",
    "digest",
    "utcnow",
]
