"""An account's data as one JSON document: written out as a stream, read back in bulk.

The document (format `FORMAT`, version `VERSION`) holds the account's todos, with their
tags, in their manual order, and the bucket lists it owns, each with its members other
than the owner and its items in their manual order:

    {"format": "todos-api.account", "version": 1, "exported_at": "...",
     "account": {"email": "..."},
     "todos": [{"title": "...", "tags": ["home"], ...}, ...],
     "bucketlists": [{"name": "...", "members": [{"email": "...", "role": "editor"}],
                      "items": [{"name": "...", ...}, ...]}, ...]}

`export_chunks` writes it from one consistent snapshot, a few hundred rows at a time, so
its memory does not grow with the account. `import_archive` creates a document's content
in an account with new ids, in the caller's transaction: all of it lands or nothing.
Both leave ids out: they belong to one database.
"""

import itertools
import json
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from .base import begin_writing, snapshot, utcnow
from .bucket import OWNER, Bucket, Item, Member
from .bulk import batches, insert_rows
from .ordering import after_last
from .sync import items_of, note_bucket, note_change, todos_of
from .todo import FAR_FUTURE, FAR_PAST, Tag, Todo, tag_key, tags_named, todo_tags
from .user import User

FORMAT = "todos-api.account"
VERSION = 1
# Rows fetched from the database, and lines written out, at a time.
BATCH = 1000
FLUSH_AT = 64 * 1024
# Tags created and looked up per statement: a few thousand bound values at most.
TAG_BATCH = 1000

TODO_COLUMNS = ("title", "description", "done", "completed_at", "due_at", "priority")
BUCKET_COLUMNS = ("name", "description")
ITEM_COLUMNS = ("name", "description", "done", "completed_at")
STAMPS = ("created_at", "updated_at")


def _json(value) -> object:
    return value.isoformat() if isinstance(value, datetime) else value


def _object(row, columns: Iterable[str], **extra) -> dict:
    return {**{column: _json(getattr(row, column)) for column in columns}, **extra}


def _line(value, last: bool = False) -> str:
    return json.dumps(value, ensure_ascii=False) + ("\n" if last else ",\n")


class _ByList:
    """Rows of a stream sorted by `bucket_id`, handed out list by list as the lists come,
    in the same order."""

    def __init__(self, rows):
        self.groups = itertools.groupby(rows, key=lambda row: row.bucket_id)
        self.current = next(self.groups, None)

    def of(self, bucket_id: int) -> Iterator:
        while self.current is not None and self.current[0] < bucket_id:
            self.current = next(self.groups, None)
        if self.current is not None and self.current[0] == bucket_id:
            yield from self.current[1]
            self.current = next(self.groups, None)


def _pieces(connection, user_id: int, email: str, progress) -> Iterator[str]:
    """The document, as pieces of text in order; `progress` hears of each row written."""
    head = {"format": FORMAT, "version": VERSION, "exported_at": utcnow().isoformat()}
    yield json.dumps({**head, "account": {"email": email}}, ensure_ascii=False)[:-1]
    yield ',\n"todos": [\n'
    todos = connection.execute(
        select(Todo.id, *(getattr(Todo, c) for c in TODO_COLUMNS + STAMPS), Tag.name.label("tag"))
        .outerjoin(todo_tags, todo_tags.c.todo_id == Todo.id)
        .outerjoin(Tag, Tag.id == todo_tags.c.tag_id)
        .where(Todo.user_id == user_id)
        .order_by(Todo.position, Todo.id, Tag.key)
    )
    previous = None
    for _, rows in itertools.groupby(todos, key=lambda row: row.id):
        rows = list(rows)  # one todo with each of its tags
        tags = [row.tag for row in rows if row.tag is not None]
        if previous is not None:
            yield _line(previous)
            progress(1)
        previous = _object(rows[0], TODO_COLUMNS + STAMPS, tags=tags)
    if previous is not None:
        yield _line(previous, last=True)
        progress(1)
    yield '],\n"bucketlists": [\n'
    buckets = connection.execute(
        select(Bucket.id, *(getattr(Bucket, c) for c in BUCKET_COLUMNS + STAMPS))
        .where(Bucket.user_id == user_id)
        .order_by(Bucket.id)
    )
    members = _ByList(
        connection.execute(
            select(Member.bucket_id, User.email, Member.role, Member.added_at)
            .join(User, User.id == Member.user_id)
            .join(Bucket, Bucket.id == Member.bucket_id)
            .where(Bucket.user_id == user_id, Member.role != OWNER)
            .order_by(Member.bucket_id, Member.added_at, Member.user_id)
        )
    )
    # Items are their list's owner's rows (models.bucket): the account's own, here.
    items = _ByList(
        connection.execute(
            select(Item.bucket_id, *(getattr(Item, c) for c in ITEM_COLUMNS + STAMPS))
            .where(Item.user_id == user_id)
            .order_by(Item.bucket_id, Item.position, Item.id)
        )
    )
    first = True
    for bucket in buckets:
        shared = [_object(row, ("email", "role", "added_at")) for row in members.of(bucket.id)]
        opening = json.dumps(_object(bucket, BUCKET_COLUMNS + STAMPS, members=shared))
        yield ("" if first else ",\n") + opening[:-1] + ', "items": [\n'
        progress(1)
        first = False
        previous = None
        for item in items.of(bucket.id):
            if previous is not None:
                yield _line(previous)
                progress(1)
            previous = _object(item, ITEM_COLUMNS + STAMPS)
        if previous is not None:
            yield _line(previous, last=True)
            progress(1)
        yield "]}"
    yield "\n]}\n"


def export_chunks(
    engine: Engine,
    user_id: int,
    email: str,
    progress: Callable[[int], None] = lambda rows: None,
) -> Iterator[bytes]:
    """The export document of account `user_id` (whose address is `email`), UTF-8, in
    chunks of about `FLUSH_AT` bytes, read from one snapshot (`models.base.snapshot`) on a
    connection of its own, which the end of the iteration, or its closing, gives back.
    `progress` hears of each todo, bucket list and item written (`export_size`)."""
    with snapshot(engine, BATCH) as connection:
        pending, size = [], 0
        for piece in _pieces(connection, user_id, email, progress):
            pending.append(piece)
            size += len(piece)
            if size >= FLUSH_AT:
                yield "".join(pending).encode()
                pending, size = [], 0
        yield "".join(pending).encode()


def export_size(session: Session, user_id: int) -> int:
    """How many rows (todos, bucket lists and their items) an export of the account holds."""
    owned = select(func.count(Bucket.id), func.coalesce(func.sum(Bucket.item_count), 0)).where(
        Bucket.user_id == user_id
    )
    buckets, items = session.execute(owned).one()
    todos = session.scalar(select(User.todo_count).where(User.id == user_id)) or 0
    return todos + buckets + items


def archive_size(document: dict) -> int:
    """How many rows (todos, bucket lists and their items) importing `document` writes."""
    lists = document.get("bucketlists", [])
    items = sum(len(bucket.get("items", [])) for bucket in lists)
    return len(document.get("todos", [])) + len(lists) + items


def import_archive(
    session: Session,
    user_id: int,
    document: dict,
    parse_time: Callable[[str], datetime],
    progress: Callable[[int], None] = lambda rows: None,
) -> dict:
    """Create the content of `document` (a validated export) in account `user_id`, with new
    ids, in `session`'s transaction, which the caller commits; `progress` hears of rows
    as they go in. `parse_time` reads the document's date-times.

    Todos go after the account's own in the manual order, in the document's order; tags
    join the account's tags of the same name; bucket lists are new lists, each item in
    its order. A member is added in their role when an account has their email; the
    others (and the importing account itself) are skipped and named in the result.
    Created and completed times are kept; every row is updated now.
    """
    begin_writing(session)
    now = utcnow()

    def time_of(row: dict, key: str, default: datetime | None) -> datetime | None:
        value = row.get(key)
        return default if value is None else parse_time(value)

    todos = document.get("todos", [])
    names = {}
    for todo in todos:
        for name in todo.get("tags", []):
            names.setdefault(tag_key(name), name)
    tag_ids = {}
    for batch in batches(sorted(names), TAG_BATCH):
        tag_ids.update((tag.key, tag.id) for tag in tags_named(user_id, [names[k] for k in batch]))
    last = session.scalar(select(func.max(Todo.position)).where(Todo.user_id == user_id))

    def todo_rows():
        position = last
        for todo in todos:
            position = after_last(position)
            due = time_of(todo, "due_at", None)
            done = todo.get("done", False)
            yield {
                "user_id": user_id,
                "title": todo["title"],
                "description": todo.get("description", ""),
                "done": done,
                "completed_at": time_of(todo, "completed_at", now) if done else None,
                "due_at": due,
                "due_first": due or FAR_FUTURE,
                "due_last": due or FAR_PAST,
                "priority": todo.get("priority", 0),
                "position": position,
                "created_at": time_of(todo, "created_at", now),
                "updated_at": now,
            }

    todo_ids = insert_rows(session, Todo.__table__, todo_rows(), return_ids=True, progress=progress)
    links = (
        {"tag_id": tag_id, "todo_id": todo_id}
        for todo_id, todo in zip(todo_ids, todos, strict=True)
        for tag_id in {tag_ids[tag_key(name)] for name in todo.get("tags", [])}
    )
    insert_rows(session, todo_tags, links)
    for todo_id in todo_ids:
        note_change(session, todos_of(user_id), todo_id)

    lists = document.get("bucketlists", [])
    bucket_rows = [
        {
            "user_id": user_id,
            "name": bucket["name"],
            "description": bucket.get("description", ""),
            "created_at": time_of(bucket, "created_at", now),
            "updated_at": now,
        }
        for bucket in lists
    ]
    bucket_ids = insert_rows(
        session, Bucket.__table__, bucket_rows, return_ids=True, progress=progress
    )
    for bucket_id in bucket_ids:
        note_bucket(session, bucket_id)  # for each member, looked up at commit

    def item_rows():
        for bucket_id, bucket in zip(bucket_ids, lists, strict=True):
            position = None
            for item in bucket.get("items", []):
                position = after_last(position)
                done = item.get("done", False)
                yield {
                    "bucket_id": bucket_id,
                    "user_id": user_id,
                    "name": item["name"],
                    "description": item.get("description", ""),
                    "done": done,
                    "completed_at": time_of(item, "completed_at", now) if done else None,
                    "position": position,
                    "created_at": time_of(item, "created_at", now),
                    "updated_at": now,
                }

    item_ids = insert_rows(session, Item.__table__, item_rows(), return_ids=True, progress=progress)
    item_lists = (
        bucket_id
        for bucket_id, bucket in zip(bucket_ids, lists, strict=True)
        for _ in bucket.get("items", [])
    )
    for item_id, bucket_id in zip(item_ids, item_lists, strict=True):
        note_change(session, items_of(bucket_id), item_id)

    added, skipped = _add_members(session, user_id, bucket_ids, bucket_rows, lists, now)
    return {
        "todos": len(todo_ids),
        "tags": len(tag_ids),
        "bucketlists": len(bucket_ids),
        "items": len(item_ids),
        "members": added,
        "members_skipped": skipped,
    }


def _add_members(session, user_id, bucket_ids, bucket_rows, lists, now) -> tuple[int, list]:
    """Add each list's members that have an account; (how many, the emails skipped)."""
    wanted = {
        User.normalize_email(member["email"])
        for bucket in lists
        for member in bucket.get("members", [])
    }
    accounts = {}
    for batch in batches(sorted(wanted), BATCH):
        # Locked as the new rows refer to them: an account being deleted meanwhile is
        # waited for, and then no account (models.sync.delete_account).
        found = session.execute(
            select(User.email, User.id)
            .where(User.email.in_(batch))
            .with_for_update(read=True, key_share=True)
        )
        accounts.update(found.all())
    rows, skipped = [], set()
    for bucket_id, row, bucket in zip(bucket_ids, bucket_rows, lists, strict=True):
        taken = {user_id}
        for member in bucket.get("members", []):
            account = accounts.get(User.normalize_email(member["email"]))
            if account is None or account == user_id:
                skipped.add(member["email"])
            elif account not in taken:
                taken.add(account)
                rows.append(
                    {
                        "bucket_id": bucket_id,
                        "user_id": account,
                        "role": member["role"],
                        "added_at": now,
                        "name": row["name"],
                        "created_at": row["created_at"],
                    }
                )
    insert_rows(session, Member.__table__, rows)
    return len(rows), sorted(skipped)
