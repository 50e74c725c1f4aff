"""SQLAlchemy models, one module per aggregate."""

from .base import db, utcnow
from .bucket import Bucket, Item
from .todo import Todo
from .user import AccessToken, ApiKey, User, digest

__all__ = ["AccessToken", "ApiKey", "Bucket", "Item", "Todo", "User", "db", "digest", "utcnow"]
