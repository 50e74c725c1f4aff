"""Bucket lists and their items."""

from sqlalchemy import ForeignKey, Index, String, Text, event, inspect, update
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship
from sqlalchemy.orm.util import identity_key

from .base import Completable, Ordered, Timestamped, Versioned, db
from .counts import count_column, maintain_counts


class Bucket(Timestamped, Versioned, db.Model):
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
    item_count: Mapped[int] = count_column()
    done_count: Mapped[int] = count_column()

    # The first items a representation embeds, with `items_truncated`; set by the API's
    # loader (namespaces.bucketlist), which reads no more than it shows.
    first_items = ()
    items_truncated = False

    items: Mapped[list["Item"]] = relationship(
        back_populates="bucket",
        order_by="(Item.position, Item.id)",
        cascade="all, delete-orphan",
        passive_deletes=True,
        lazy="raise_on_sql",
    )


class Item(Completable, Ordered, Timestamped, Versioned, db.Model):
    __tablename__ = "items"
    __table_args__ = (
        # The owner is kept on the item too, so every item query is scoped by owner
        # with one indexed condition, exactly like todos and buckets.
        # Owner and bucket lead every index, so a list, its count and its keyset pages are
        # answered from the index alone, however many items the bucket holds.
        Index("ix_items_user_id_bucket_id_id", "user_id", "bucket_id", "id"),
        Index(
            "ix_items_user_id_bucket_id_created_at_id", "user_id", "bucket_id", "created_at", "id"
        ),
        Index("ix_items_user_id_bucket_id_name_id", "user_id", "bucket_id", "name", "id"),
        Index("ix_items_user_id_bucket_id_position_id", "user_id", "bucket_id", "position", "id"),
        # For the cascade when a bucket is deleted, and the triggers counting a bucket's items.
        Index("ix_items_bucket_id", "bucket_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    bucket_id: Mapped[int] = mapped_column(ForeignKey("buckets.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")

    bucket: Mapped[Bucket] = relationship(back_populates="items", lazy="raise_on_sql")


maintain_counts(Bucket.__table__)
maintain_counts(Item.__table__)


# A bucket's representation holds its items, so adding, changing or removing an item
# is a new version of the bucket too: a conditional write of the bucket made against
# the old items then fails. The bump is one atomic increment, so writers of items in
# the same bucket never conflict with each other.


# Adding, removing and moving items, and marking them done or open, also changes buckets'
# counts (the triggers of models.counts): the flush leaves those counts expired on
# buckets the session holds.

_RECOUNTED = "recounted_buckets"


def _bump_buckets(connection, bucket_ids) -> None:
    buckets = Bucket.__table__
    connection.execute(
        update(buckets)
        .where(buckets.c.id.in_(sorted(set(bucket_ids))))
        .values(version=buckets.c.version + 1)
    )


def _recounted(item, bucket_ids) -> None:
    inspect(item).session.info.setdefault(_RECOUNTED, set()).update(bucket_ids)


@event.listens_for(Item, "after_insert")
@event.listens_for(Item, "after_delete")
def _item_added_or_removed(mapper, connection, item) -> None:
    _bump_buckets(connection, [item.bucket_id])
    _recounted(item, [item.bucket_id])


@event.listens_for(Item, "after_update")
def _item_changed(mapper, connection, item) -> None:
    state = inspect(item)
    if not state.session.is_modified(item, include_collections=False):
        return
    moved_from = state.attrs.bucket_id.history.deleted or ()
    _bump_buckets(connection, [item.bucket_id, *moved_from])
    if moved_from or state.attrs.done.history.has_changes():
        _recounted(item, [item.bucket_id, *moved_from])


@event.listens_for(Session, "after_flush_postexec")
def _expire_item_counts(session, flush_context) -> None:
    for bucket_id in session.info.pop(_RECOUNTED, ()):
        bucket = session.identity_map.get(identity_key(Bucket, bucket_id))
        if bucket is not None:
            session.expire(bucket, ["item_count", "done_count"])
