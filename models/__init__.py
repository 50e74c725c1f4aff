"""SQLAlchemy models, one module per aggregate."""

from .base import db, never_reuse_ids, refresh_statistics, utcnow
from .bucket import EDITOR, OWNER, ROLES, VIEWER, Bucket, Item, Member
from .idempotency import IdempotencyKey
from .sync import SyncChange, SyncStream
from .todo import Tag, Todo, tag_key
from .user import AccessToken, ApiKey, User, digest

never_reuse_ids(db.metadata)

__all__ = [
    "EDITOR",
    "OWNER",
    "ROLES",
    "VIEWER",
    "AccessToken",
    "ApiKey",
    "Bucket",
    "IdempotencyKey",
    "Item",
    "Member",
    "SyncChange",
    "SyncStream",
    "Tag",
    "Todo",
    "User",
    "db",
    "digest",
    "refresh_statistics",
    "tag_key",
    "utcnow",
]
