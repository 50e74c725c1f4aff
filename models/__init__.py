"""SQLAlchemy models, one module per aggregate."""

from .base import db, utcnow
from .todo import Todo
from .user import AccessToken, ApiKey, User, digest

__all__ = ["AccessToken", "ApiKey", "Todo", "User", "db", "digest", "utcnow"]
