"""Todos: one task each, owned by one user."""

from sqlalchemy import Boolean, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Timestamped, Versioned, db
from .counts import maintain_counts


class Todo(Timestamped, Versioned, db.Model):
    __tablename__ = "todos"
    # Every list query filters by owner and sorts by one of these keys, then by id.
    __table_args__ = (
        Index("ix_todos_user_id_id", "user_id", "id"),
        Index("ix_todos_user_id_created_at_id", "user_id", "created_at", "id"),
        Index("ix_todos_user_id_title_id", "user_id", "title", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    done: Mapped[bool] = mapped_column(Boolean, default=False)


maintain_counts(Todo.__table__)
