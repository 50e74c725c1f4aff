"""Owner-scoped lookups: a row that is not the caller's does not exist for them."""

from flask_restx import abort
from sqlalchemy import select

from api.auth import current_user
from models import db


def owned(entity):
    """`SELECT entity` restricted to the caller's rows."""
    return select(entity).where(entity.user_id == current_user().id)


def get_owned_or_404(entity, ident: int, *criteria, options=(), name: str | None = None):
    """The caller's `entity` with this id (and `criteria`), or 404."""
    found = db.session.scalars(
        owned(entity).where(entity.id == ident, *criteria).options(*options)
    ).first()
    if found is None:
        abort(404, f"{name or entity.__name__} {ident} not found.")
    return found
