"""Manual order: where a new row goes, and moving a row right after another.

Rows of a list carry a `position` (`models.ordering`) and sort by (position, id). A new
row goes last; a move writes the moved row alone, with a position between its new
neighbours, found with two indexed lookups whatever the list's length.
"""

from flask import request
from flask_restx import Model, abort, fields
from sqlalchemy import func, select

from api.plumbing.converters import MAX_ID
from api.policies.loaders import load_owned, owned
from models import db
from models.ordering import after_last, between

# The body of every move (`POST .../move`), read by `move_target`.
MOVE = Model(
    "Move",
    {
        "after": fields.Integer(
            required=True,
            min=1,
            max=MAX_ID,
            nullable=True,
            description="The id of the row to follow, or null to become the first",
            example=None,
        )
    },
)


def last_position(entity, **scope) -> str:
    """The position of a new row of the caller's `entity` list (with these `scope` columns)."""
    last = db.session.scalar(select(func.max(entity.position)).where(*owned(entity, **scope)))
    return after_last(last)


def move_target() -> int | None:
    """The `after` of a move's body: a row id, or null for the list's start; else 400
    (an id no id column can hold included)."""
    body = request.get_json()  # 400 for a body that is not valid JSON
    after = body.get("after", False) if isinstance(body, dict) else False
    valid = isinstance(after, int) and not isinstance(after, bool) and 1 <= after <= MAX_ID
    if after is not None and not valid:
        errors = {"after": "Required: the id of the row to follow, or null to become the first."}
        abort(400, "Input payload validation failed", errors=errors)
    return after


def move_after(row, after: int | None, *, name: str, **scope) -> None:
    """Put `row` right after the caller's row `after` of the same list (None: first).

    400 when `after` is the row itself, 404 (naming `name`) when the caller has no such
    row in this list. The row's new position is written when the session flushes.
    """
    entity = type(row)
    if after == row.id:
        abort(
            400, "Input payload validation failed", errors={"after": "A row cannot follow itself."}
        )
    others = [*owned(entity, **scope), entity.id != row.id]
    if after is None:
        before = None
        following = select(func.min(entity.position)).where(*others)
    else:
        before = load_owned(entity, after, name=name, **scope).position
        following = select(func.min(entity.position)).where(*others, entity.position > before)
    try:
        row.position = between(before, db.session.scalar(following))
    except OverflowError:
        abort(409, "No room is left at that place in the order: move the row after another.")
