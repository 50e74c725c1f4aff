"""Todos: one task each, owned by one user, with its tags."""

from datetime import UTC, datetime

from sqlalchemy import (
    Column,
    ForeignKey,
    Index,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    select,
    text,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from .base import Completable, Ordered, Timestamped, Versioned, db, utcnow
from .counts import count_column, maintain_counts

# Todos without a due date sort after every dated one, in both directions: each
# direction sorts on a column that holds the due date, or else a date past its far end.
FAR_FUTURE = datetime(9999, 12, 31, tzinfo=UTC)
FAR_PAST = datetime(1, 1, 1, tzinfo=UTC)

todo_tags = Table(
    "todo_tags",
    db.metadata,
    # Led by the tag: `tag=` walks one tag's todos in id order from the index alone.
    Column("tag_id", ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True),
    Column("todo_id", ForeignKey("todos.id", ondelete="CASCADE"), primary_key=True),
    Index("ix_todo_tags_todo_id", "todo_id"),
)


class Tag(db.Model):
    """A tag of one account, named as first written, found by its lower-case `key`."""

    __tablename__ = "tags"
    __table_args__ = (UniqueConstraint("user_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(50))
    # The name case-folded (`tag_key`): up to three times its length ("ß" is "ss").
    key: Mapped[str] = mapped_column(String(150))
    # Kept by the database (models.counts) as todos gain and lose the tag.
    todo_count: Mapped[int] = count_column()


def tag_key(name: str) -> str:
    """How tags compare: trimmed, whatever the case."""
    return name.strip().casefold()


def tags_named(user_id: int, names: list[str], dropped: tuple[int, ...] = ()) -> list[Tag]:
    """The account's tags of these `names` (compared by `tag_key`), in key order; a new
    one is created as first written. Concurrent writers creating the same tag both get
    the one row (INSERT ... ON CONFLICT DO NOTHING, then a read).

    These tags, and the tags of ids `dropped` (those the todo loses), are locked until
    the transaction ends, in id order, before the todo is written: the lock a tag's
    count takes when a todo gains or loses it (`models.counts`), taken here in the order
    every writer takes it, and before the account's row, which counts its todos. Todos
    created, retagged and deleted at once with the same tags so never deadlock.
    """
    wanted: dict[str, str] = {}
    for name in names:
        wanted.setdefault(tag_key(name), name.strip())
    if not wanted and not dropped:
        return []
    dialect = db.session.get_bind().dialect.name
    insert = (postgresql if dialect == "postgresql" else sqlite).insert(Tag)
    rows = [{"user_id": user_id, "key": key, "name": wanted[key]} for key in sorted(wanted)]
    if rows:
        db.session.execute(insert.values(rows).on_conflict_do_nothing())
    locked = (
        select(Tag)
        .where(Tag.user_id == user_id, Tag.key.in_(wanted) | Tag.id.in_(dropped))
        .order_by(Tag.id)
        .with_for_update(key_share=True)
    )
    found = [tag for tag in db.session.scalars(locked) if tag.key in wanted]
    return sorted(found, key=lambda tag: tag.key)


class Todo(Completable, Ordered, Timestamped, Versioned, db.Model):
    __tablename__ = "todos"
    # Every list query filters by owner and sorts by one of these keys, then by id.
    __table_args__ = (
        Index("ix_todos_user_id_id", "user_id", "id"),
        Index("ix_todos_user_id_created_at_id", "user_id", "created_at", "id"),
        Index("ix_todos_user_id_title_id", "user_id", "title", "id"),
        Index("ix_todos_user_id_due_first_id", "user_id", "due_first", "id"),
        Index("ix_todos_user_id_due_last_id", "user_id", "due_last", "id"),
        Index("ix_todos_user_id_priority_id", "user_id", "priority", "id"),
        Index("ix_todos_user_id_position_id", "user_id", "position", "id"),
        # `overdue=true`: the open todos of an owner by due date.
        Index("ix_todos_user_id_done_due_first", "user_id", "done", "due_first"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    due_at: Mapped[datetime | None] = mapped_column(default=None)
    # The sort keys of `due_at`: ascending (no date: FAR_FUTURE) and descending (FAR_PAST).
    due_first: Mapped[datetime] = mapped_column(default=FAR_FUTURE)
    due_last: Mapped[datetime] = mapped_column(default=FAR_PAST)
    priority: Mapped[int] = mapped_column(SmallInteger, default=0, server_default=text("0"))

    # Loaded on access for a write, which replaces the collection; reads load it with
    # their rows (api.rest.masks.load_options) when the response shows it.
    tags: Mapped[list[Tag]] = relationship(secondary=todo_tags, order_by=Tag.key)

    def update(self, data: dict) -> None:
        """Set the given fields; `tags` (names) become the account's tags of those names."""
        data = dict(data)
        names = data.pop("tags", None)
        super().update(data)
        if names is None:
            return
        current = tuple(tag.id for tag in self.tags)
        tags = tags_named(self.user_id, names, dropped=current)
        if [tag.id for tag in tags] != [tag.id for tag in self.tags]:
            self.tags = tags
            # The row itself changes too: a new version and updated_at.
            self.updated_at = utcnow()

    @validates("due_at")
    def _keep_due_keys(self, key, due_at):
        self.due_first = due_at or FAR_FUTURE
        self.due_last = due_at or FAR_PAST
        return due_at

    @property
    def tag_names(self) -> list[str]:
        return [tag.name for tag in self.tags]


maintain_counts(Todo.__table__)
maintain_counts(todo_tags)
