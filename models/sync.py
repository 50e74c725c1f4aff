"""The change record behind incremental sync: the order in which the rows of each synced
list changed, and the tombstones of the rows deleted.

A synced list is a *stream* (`Stream`): an account's todos, an account's bucket lists, or
one bucket list's items. A stream has a counter, `SyncStream.seq`, and each row of the list
that has changed since the record began has one `SyncChange`: the counter's value at its
last change, and whether that change deleted it. A tombstone holds the deleted row's id
and nothing else, since the row itself is gone.

The ORM tells which rows change (`Todo`, `Bucket` and `Item` events below, noted in the
session), and `record_changes` writes the record when the session commits. It is the last
write of the transaction. It first raises the counter with one atomic
`INSERT ... ON CONFLICT DO UPDATE SET seq = seq + n ... RETURNING`, which locks the
stream's row until the transaction ends. A second writer of the same stream waits on that
lock, and it gets its positions only after the first has committed. So positions are
handed out in the order in which their transactions commit, and a reader that sees
position n sees every position before it. A timestamp or a database sequence, taken
before commit, would not do this. Streams are locked in the order of their keys, so two
transactions that each change several streams cannot deadlock on them.

A bucket list is in the stream of each of its members (`Member`): a change of the list,
or of one of its items, is noted for each of them, and a member's joining, change of role
and leaving is noted in that member's stream (leaving as a tombstone).

Rows written with Core statements bypass the ORM's events and are noted by hand
(`note_change`, `note_bucket`).
"""

from datetime import datetime, timedelta
from functools import lru_cache
from typing import NamedTuple

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    bindparam,
    delete,
    event,
    func,
    literal,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, Session, mapped_column

from .base import UTCDateTime, begin_writing, db, utcnow
from .bucket import Bucket, Item, Member
from .bulk import batches
from .todo import Todo
from .user import User

PENDING = "sync_changes"
SHARED = "sync_shared_buckets"
# Expired tombstones are purged each time a stream's counter passes a multiple of this,
# at most PURGE_BATCH at a time.
PURGE_EVERY = 64
PURGE_BATCH = 500


class SyncStream(db.Model):
    """The counter of one synced list; `purged_seq` is the position of the last
    tombstone purged (a client behind it may have missed a deletion)."""

    __tablename__ = "sync_streams"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(40), unique=True)
    # The account or bucket list whose deletion takes the stream with it.
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    bucket_id: Mapped[int | None] = mapped_column(ForeignKey("buckets.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(BigInteger, default=0)
    purged_seq: Mapped[int] = mapped_column(BigInteger, default=0)


class SyncChange(db.Model):
    """Where row `row_id` of a stream last changed, and whether that deleted it."""

    __tablename__ = "sync_changes"
    __table_args__ = (
        # A sync reads a stream's changes in order from here, k changes for k rows.
        Index("ix_sync_changes_stream_id_seq", "stream_id", "seq", unique=True),
        # The purge walks a stream's tombstones, oldest first.
        Index("ix_sync_changes_stream_id_deleted_seq", "stream_id", "deleted", "seq"),
    )

    stream_id: Mapped[int] = mapped_column(
        ForeignKey("sync_streams.id", ondelete="CASCADE"), primary_key=True
    )
    row_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(BigInteger)
    deleted: Mapped[bool] = mapped_column(Boolean)
    changed_at: Mapped[datetime]


class Stream(NamedTuple):
    """A synced list: its `kind` ("todos", "buckets" or "items") and the id of the
    account (todos, buckets) or the bucket list (items) it belongs to."""

    kind: str
    owner: int

    @property
    def key(self) -> str:
        return f"{self.kind}/{self.owner}"

    @property
    def parent(self) -> str:
        """The column of `SyncStream` that ties the stream to what owns it (`owner`)."""
        return "bucket_id" if self.kind == "items" else "user_id"


def todos_of(user_id: int) -> Stream:
    return Stream("todos", user_id)


def buckets_of(user_id: int) -> Stream:
    return Stream("buckets", user_id)


def items_of(bucket_id: int) -> Stream:
    return Stream("items", bucket_id)


def note_change(session: Session, stream: Stream, row_id: int, deleted: bool = False) -> None:
    """Note in `session` that row `row_id` of `stream` changed (or was deleted); the
    record is written when the session commits (`record_changes`)."""
    rows = session.info.setdefault(PENDING, {}).setdefault(stream, {})
    # A row created and deleted in one transaction is a tombstone, harmless to a client.
    rows[row_id] = deleted or rows.get(row_id, False)


def _note_row(row, deleted: bool) -> None:
    """Note a written or deleted todo, item or membership (the ORM's events, below)."""
    session = Session.object_session(row)
    if isinstance(row, Todo):
        note_change(session, todos_of(row.user_id), row.id, deleted)
    elif isinstance(row, Item):
        note_change(session, items_of(row.bucket_id), row.id, deleted)
        # The list shows its items' counts: it changes with them (models.bucket).
        note_bucket(session, row.bucket_id)
    else:
        # A member's role is part of the list as they see it; a member who leaves or
        # is removed sees it deleted.
        note_change(session, buckets_of(row.user_id), row.bucket_id, deleted)


def note_bucket(session: Session, bucket_id: int) -> None:
    """Note that bucket list `bucket_id` changed, for each of its members: they are
    looked up when the session commits (`record_changes`), all lists at once."""
    session.info.setdefault(SHARED, set()).add(bucket_id)


def _members(connection, bucket_ids) -> list:
    """(bucket id, account id) of each member of these bucket lists, looked up a thousand
    lists at a time (a statement binds at most 65,535 values on PostgreSQL, fewer on
    SQLite, and an import may note far more lists)."""
    found = []
    for batch in batches(sorted(bucket_ids), 1000):
        statement = select(Member.bucket_id, Member.user_id).where(Member.bucket_id.in_(batch))
        found.extend(connection.execute(statement))
    return found


for _entity in (Todo, Item, Member):
    for _written in ("after_insert", "after_update"):
        event.listen(_entity, _written, lambda mapper, connection, row: _note_row(row, False))
    event.listen(_entity, "after_delete", lambda mapper, connection, row: _note_row(row, True))


@event.listens_for(Bucket, "after_insert")
@event.listens_for(Bucket, "after_update")
def _bucket_written(mapper, connection, bucket) -> None:
    note_bucket(Session.object_session(bucket), bucket.id)


@event.listens_for(Bucket, "before_delete")
def _bucket_deleted(mapper, connection, bucket) -> None:
    """A deleted list is a tombstone for each member; its members' rows go with it
    (ON DELETE CASCADE), so they are read now."""
    session = Session.object_session(bucket)
    session.info.get(SHARED, set()).discard(bucket.id)
    for bucket_id, user_id in _members(connection, [bucket.id]):
        note_change(session, buckets_of(user_id), bucket_id, deleted=True)


def delete_account(session: Session, user_id: int) -> None:
    """Delete account `user_id` and everything it owns, the bucket lists it owns for every
    member included (ON DELETE CASCADE), and its place on the lists shared with it; each
    member sees the lists it owned deleted in their next sync. The caller commits.

    Whatever a concurrent write holds or waits for is locked first, in the order writes
    take it, so that nothing is written to the account's lists or its sync record after
    the deletion commits, and no write deadlocks with it:

    1. every list the account is a member of (its own included), in id order, as a write
       of one of them locks it: a write to one either commits first, or waits and then
       finds the list (or the account's place on it) gone;
    2. the account's row: a list shared with it from now on waits, then finds no account
       (`namespaces.members`). A write to one of its lists, which refers to the row, has
       its list's lock, so it cannot be waiting here;
    3. the lists shared with it between 1 and 2, which hold nothing of the account's.

    On SQLite the database's write lock does all of this at once.
    """
    begin_writing(session)

    def lock_lists(skip: set[int]) -> set[int]:
        lists = select(Member.bucket_id).where(Member.user_id == user_id)
        locked = session.scalars(
            select(Bucket.id)
            .where(Bucket.id.in_(lists), Bucket.id.not_in(skip))
            .order_by(Bucket.id)
            .with_for_update(key_share=True)
        )
        return skip | set(locked)

    locked = lock_lists(set())
    session.execute(select(User.id).where(User.id == user_id).with_for_update()).all()
    lock_lists(locked)
    owned = session.execute(
        select(Member.bucket_id, Member.user_id)
        .join(Bucket, Bucket.id == Member.bucket_id)
        .where(Bucket.user_id == user_id, Member.user_id != user_id)
    )
    for bucket_id, member in owned:
        note_change(session, buckets_of(member), bucket_id, deleted=True)
    session.execute(delete(User).where(User.id == user_id))


@lru_cache(maxsize=2)
def _statements(dialect: str) -> tuple:
    """The two statements that record changes, built once per database kind (SQLAlchemy
    works out a statement's cache key once per statement object): raise each stream's
    counter by its `count` (its row created at its first change), returning its new
    value, and stamp each changed row with its new position."""
    insert = (postgresql if dialect == "postgresql" else sqlite).insert
    raised = insert(SyncStream).values(
        key=bindparam("key"),
        user_id=bindparam("user_id"),
        bucket_id=bindparam("bucket_id"),
        seq=bindparam("count"),
        purged_seq=0,
    )
    raised = raised.on_conflict_do_update(
        index_elements=[SyncStream.key], set_={"seq": SyncStream.seq + raised.excluded.seq}
    ).returning(SyncStream.key, SyncStream.id, SyncStream.seq)
    return raised, _stamp(insert(SyncChange))


def _stamp(insert):
    """`insert` into `sync_changes`, a row's entry replaced by its new one."""
    return insert.on_conflict_do_update(
        index_elements=[SyncChange.stream_id, SyncChange.row_id],
        set_={
            "seq": insert.excluded.seq,
            "deleted": insert.excluded.deleted,
            "changed_at": insert.excluded.changed_at,
        },
    )


def _array(name: str, type_):
    return bindparam(name, type_=postgresql.ARRAY(type_))


@lru_cache(maxsize=1)
def _recorded_at_once():
    """PostgreSQL: `_statements`' two as one, for every stream a transaction changed:
    the counters raised in a WITH, in key order, and the rows stamped from what it
    returns. It is bound to arrays: `keys`, `user_ids`, `bucket_ids` and `counts` of the
    streams; `row_keys`, `row_ids`, `deleted`, `ordinals` (a row's place among its
    stream's changes, from 1) and `row_counts` (its stream's count) of the rows; and
    `now`. One round trip, inside the locks every writer of those lists waits on."""
    streams = (
        func.unnest(
            _array("keys", String),
            _array("user_ids", Integer),
            _array("bucket_ids", Integer),
            _array("counts", Integer),
        )
        .table_valued("key", "user_id", "bucket_id", "count", with_ordinality="n")
        .render_derived()
    )
    raised = postgresql.insert(SyncStream).from_select(
        ["key", "user_id", "bucket_id", "seq", "purged_seq"],
        select(
            streams.c.key, streams.c.user_id, streams.c.bucket_id, streams.c.count, literal(0)
        ).order_by(streams.c.n),  # the counters are locked in this order: the keys'
    )
    raised = (
        raised.on_conflict_do_update(
            index_elements=[SyncStream.key], set_={"seq": SyncStream.seq + raised.excluded.seq}
        )
        .returning(SyncStream.key, SyncStream.id, SyncStream.seq)
        .cte("raised")
    )
    rows = (
        func.unnest(
            _array("row_keys", String),
            _array("row_ids", Integer),
            _array("deleted", Boolean),
            _array("ordinals", Integer),
            _array("row_counts", Integer),
        )
        .table_valued("key", "row_id", "deleted", "ordinal", "count")
        .render_derived()
    )
    stamped = select(
        raised.c.id,
        rows.c.row_id,
        raised.c.seq - rows.c.count + rows.c.ordinal,
        rows.c.deleted,
        bindparam("now", type_=UTCDateTime()),
    ).select_from(raised.join(rows, rows.c.key == raised.c.key))
    columns = ["stream_id", "row_id", "seq", "deleted", "changed_at"]
    stamp = _stamp(postgresql.insert(SyncChange).from_select(columns, stamped))
    return stamp.returning(SyncChange.stream_id, SyncChange.seq)


def record_changes(session: Session, retention: timedelta) -> None:
    """Write the changes noted in `session` into the change record (see the module's
    docstring), and purge a bounded number of tombstones older than `retention` from a
    stream whose counter passes a multiple of `PURGE_EVERY`. Call it last in the
    transaction, when nothing more will change."""
    session.flush()
    shared = session.info.pop(SHARED, None)
    if shared:
        for bucket_id, user_id in _members(session.connection(), shared):
            note_change(session, buckets_of(user_id), bucket_id)
    pending = session.info.pop(PENDING, None)
    if not pending:
        return
    connection = session.connection()
    now = utcnow()
    streams = sorted(pending, key=lambda each: each.key)
    changes = {stream: sorted(pending[stream].items()) for stream in streams}
    if connection.dialect.name == "postgresql":
        raised = _record_at_once(connection, streams, changes, now)
    else:
        raised = _record(connection, streams, changes, now)
    for stream_id, last, count in raised:
        if last // PURGE_EVERY != (last - count) // PURGE_EVERY:
            purge_tombstones(session, stream_id, now - retention)


def _parents(stream: Stream) -> dict:
    """The parent columns of `stream`'s counter row: its own, and None for the other."""
    return {
        "user_id": stream.owner if stream.parent == "user_id" else None,
        "bucket_id": stream.owner if stream.parent == "bucket_id" else None,
    }


def _record(connection, streams: list, changes: dict, now: datetime) -> list[tuple]:
    """`record_changes` in two statements: raise the counters, then stamp the rows.
    Returns (stream id, last position, count) of each stream."""
    raise_counters, stamp = _statements(connection.dialect.name)
    counts = {stream.key: len(changes[stream]) for stream in streams}
    found = connection.execute(
        raise_counters,
        [{"key": s.key, "count": counts[s.key], **_parents(s)} for s in streams],
    )
    raised = {key: (stream_id, last) for key, stream_id, last in found}
    connection.execute(
        stamp,
        [
            {
                "stream_id": raised[stream.key][0],
                "row_id": row_id,
                "seq": raised[stream.key][1] - counts[stream.key] + ordinal,
                "deleted": deleted,
                "changed_at": now,
            }
            for stream in streams
            for ordinal, (row_id, deleted) in enumerate(changes[stream], start=1)
        ],
    )
    return [(stream_id, last, counts[key]) for key, (stream_id, last) in raised.items()]


def _record_at_once(connection, streams: list, changes: dict, now: datetime) -> list[tuple]:
    """`record_changes` in one statement (`_recorded_at_once`). Returns (stream id, last
    position, count) of each stream."""
    rows = [
        (stream, ordinal, row_id, deleted)
        for stream in streams
        for ordinal, (row_id, deleted) in enumerate(changes[stream], start=1)
    ]
    parents = [_parents(stream) for stream in streams]
    stamped = connection.execute(
        _recorded_at_once(),
        {
            "keys": [stream.key for stream in streams],
            "user_ids": [parent["user_id"] for parent in parents],
            "bucket_ids": [parent["bucket_id"] for parent in parents],
            "counts": [len(changes[stream]) for stream in streams],
            "row_keys": [stream.key for stream, _, _, _ in rows],
            "row_ids": [row_id for _, _, row_id, _ in rows],
            "deleted": [deleted for _, _, _, deleted in rows],
            "ordinals": [ordinal for _, ordinal, _, _ in rows],
            "row_counts": [len(changes[stream]) for stream, _, _, _ in rows],
            "now": now,
        },
    )
    positions = {}
    for stream_id, seq in stamped:
        positions.setdefault(stream_id, []).append(seq)
    return [(stream_id, max(seqs), len(seqs)) for stream_id, seqs in positions.items()]


def purge_tombstones(session: Session, stream_id: int, before: datetime) -> int:
    """Delete the tombstones of stream `stream_id` changed before `before`, oldest first
    and at most `PURGE_BATCH` of them, and move its `purged_seq` past them; returns how
    many went.

    Positions follow commits, so tombstones in position order are in the order of their
    deletions: the oldest `PURGE_BATCH` are read, and those up to the first that is not
    yet expired go, whatever the number of younger ones.
    """
    oldest = session.execute(
        select(SyncChange.row_id, SyncChange.seq, SyncChange.changed_at)
        .where(SyncChange.stream_id == stream_id, SyncChange.deleted.is_(True))
        .order_by(SyncChange.seq)
        .limit(PURGE_BATCH)
    )
    expired = []
    for row_id, seq, changed_at in oldest:
        if changed_at >= before:
            break
        expired.append((row_id, seq))
    if not expired:
        return 0
    session.execute(
        delete(SyncChange).where(
            SyncChange.stream_id == stream_id,
            SyncChange.row_id.in_([row_id for row_id, _ in expired]),
        )
    )
    last = max(seq for _, seq in expired)
    session.execute(
        SyncStream.__table__.update()
        .where(SyncStream.id == stream_id, SyncStream.purged_seq < last)
        .values(purged_seq=last)
    )
    return len(expired)


@event.listens_for(Session, "after_rollback")
def _forget_changes(session) -> None:
    session.info.pop(PENDING, None)
    session.info.pop(SHARED, None)
