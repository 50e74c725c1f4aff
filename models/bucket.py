"""Bucket lists, their items, and the accounts they are shared with."""

from datetime import datetime

from sqlalchemy import DDL, ForeignKey, Index, String, Text, event, inspect, update
from sqlalchemy.orm import (
    Mapped,
    Session,
    mapped_column,
    query_expression,
    relationship,
    synonym,
)
from sqlalchemy.orm.util import identity_key

from .base import Completable, Ordered, Timestamped, Versioned, db, utcnow
from .counts import count_column, maintain_counts
from .user import User

# The roles an account can have on a bucket list, each allowing what those before it do:
# a viewer reads; an editor also changes the list's name and description and its items;
# the owner also deletes the list and manages its members.
VIEWER, EDITOR, OWNER = "viewer", "editor", "owner"
ROLES = (VIEWER, EDITOR, OWNER)


class Bucket(Timestamped, Versioned, db.Model):
    """A bucket list; `user_id` is its owner's. Who else may see it is in `Member`."""

    __tablename__ = "buckets"
    __table_args__ = (Index("ix_buckets_user_id_id", "user_id", "id"),)

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
    # The caller's role on the list, loaded with it by whatever finds it for the caller
    # (`with_expression(Bucket.role, Member.role)`).
    role: Mapped[str | None] = query_expression()
    owner: Mapped[User] = relationship(lazy="raise_on_sql")
    # A list's rows are found through their `Member` rows, whose key is `bucket_id`:
    # a listing reads a row's sort key under the name of the column it sorts by.
    bucket_id = synonym("id")

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


class Member(db.Model):
    """An account's role on a bucket list; the owner has one too.

    Every list an account can see has its row here, so its lists, owned and shared, page
    along one index: each row keeps a copy of its list's sort keys (`name`, `created_at`).
    The database's triggers (below) add the owner and keep the copies.
    """

    __tablename__ = "bucket_members"
    __table_args__ = (
        Index("ix_bucket_members_user_id_bucket_id", "user_id", "bucket_id", unique=True),
        Index(
            "ix_bucket_members_user_id_created_at_bucket_id", "user_id", "created_at", "bucket_id"
        ),
        Index("ix_bucket_members_user_id_name_bucket_id", "user_id", "name", "bucket_id"),
        # For `role=`: the lists of one role are a range, and the planner knows how many.
        Index("ix_bucket_members_user_id_role_bucket_id", "user_id", "role", "bucket_id"),
    )

    bucket_id: Mapped[int] = mapped_column(
        ForeignKey("buckets.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    role: Mapped[str] = mapped_column(String(10))
    added_at: Mapped[datetime] = mapped_column(default=utcnow)
    name: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime]

    user: Mapped[User] = relationship(lazy="raise_on_sql")


# The database keeps each list's owner a member, and its members' copies of its name:
# on every INSERT of a list and every change of its name, bulk inserts with Core
# included. `migrations/versions/..._shared_bucket_lists.py` holds a frozen copy.
OWNER_JOINS = (
    "INSERT INTO bucket_members (bucket_id, user_id, role, added_at, name, created_at) "
    "SELECT id, user_id, 'owner', created_at, name, created_at FROM {rows}"
)
NAME_COPIED = "UPDATE bucket_members SET name = NEW.name WHERE bucket_id = NEW.id"
MEMBERSHIP_TRIGGERS = {
    "sqlite": [
        "CREATE TRIGGER buckets_owner_joins AFTER INSERT ON buckets FOR EACH ROW "
        f"BEGIN {OWNER_JOINS.format(rows='buckets WHERE id = NEW.id')}; END",
        "CREATE TRIGGER buckets_name_copied AFTER UPDATE OF name ON buckets FOR EACH ROW "
        f"WHEN OLD.name IS NOT NEW.name BEGIN {NAME_COPIED}; END",
    ],
    "postgresql": [
        "CREATE OR REPLACE FUNCTION buckets_members() RETURNS trigger LANGUAGE plpgsql AS $$ "
        f"BEGIN IF TG_OP = 'INSERT' THEN {OWNER_JOINS.format(rows='new_rows')}; "
        f"ELSE {NAME_COPIED}; END IF; RETURN NULL; END $$",
        "CREATE TRIGGER buckets_owner_joins AFTER INSERT ON buckets "
        "REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION buckets_members()",
        "CREATE TRIGGER buckets_name_copied AFTER UPDATE OF name ON buckets FOR EACH ROW "
        "WHEN (OLD.name IS DISTINCT FROM NEW.name) EXECUTE FUNCTION buckets_members()",
    ],
}
for _dialect, _statements in MEMBERSHIP_TRIGGERS.items():
    for _statement in _statements:
        event.listen(Member.__table__, "after_create", DDL(_statement).execute_if(dialect=_dialect))
event.listen(
    Bucket.__table__,
    "after_drop",
    DDL("DROP FUNCTION IF EXISTS buckets_members()").execute_if(dialect="postgresql"),
)


maintain_counts(Bucket.__table__)
maintain_counts(Item.__table__)
maintain_counts(Member.__table__)


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
