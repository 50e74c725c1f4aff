"""Bucket lists and their items."""

from sqlalchemy import Boolean, ForeignKey, Index, String, Text, func, select
from sqlalchemy.orm import Mapped, column_property, mapped_column, relationship

from .base import Timestamped, db


class Bucket(Timestamped, db.Model):
    __tablename__ = "buckets"
    __table_args__ = (
        Index("ix_buckets_user_id_id", "user_id", "id"),
        Index("ix_buckets_user_id_created_at_id", "user_id", "created_at", "id"),
        Index("ix_buckets_user_id_name_id", "user_id", "name", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text, default="")

    items: Mapped[list["Item"]] = relationship(
        back_populates="bucket",
        order_by="Item.id",
        cascade="all, delete-orphan",
        passive_deletes=True,
        lazy="raise_on_sql",
    )


class Item(Timestamped, db.Model):
    __tablename__ = "items"
    __table_args__ = (
        # The owner is kept on the item too, so every item query is scoped by owner
        # with one indexed condition, exactly like todos and buckets.
        Index("ix_items_bucket_id_id", "bucket_id", "id"),
        Index("ix_items_bucket_id_created_at_id", "bucket_id", "created_at", "id"),
        Index("ix_items_bucket_id_name_id", "bucket_id", "name", "id"),
        Index("ix_items_user_id", "user_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    bucket_id: Mapped[int] = mapped_column(ForeignKey("buckets.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    done: Mapped[bool] = mapped_column(Boolean, default=False)

    bucket: Mapped[Bucket] = relationship(back_populates="items", lazy="raise_on_sql")


# Counted in SQL, in the same statement as the bucket, and only when asked for.
Bucket.item_count = column_property(
    select(func.count(Item.id))
    .where(Item.bucket_id == Bucket.id)
    .correlate_except(Item)
    .scalar_subquery(),
    deferred=True,
)
