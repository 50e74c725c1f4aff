"""SQLAlchemy models, one module per aggregate."""

from .base import db, utcnow
from .bucket import Bucket, Item
from .idempotency import IdempotencyKey
from .todo import Tag, Todo, tag_key
from .user import AccessToken, ApiKey, User, digest

__all__ = [
    "AccessToken",
    "ApiKey",
    "Bucket",
    "IdempotencyKey",
    "Item",
    "Tag",
    "Todo",
    "User",
    "db",
    "digest",
    "tag_key",
    "utcnow",
]
