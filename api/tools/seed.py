"""Demo data in bulk: accounts, todos, bucket lists and their items.

Rows go in with `models.bulk`, one executemany per batch (one `COPY` on PostgreSQL),
all in one transaction: a million items take seconds, and a seed that fails leaves
nothing behind. Every title, name and flag is drawn from `random.Random(seed)`, so the
same seed gives the same content. Nothing assumes ids: accounts get the first free
`demoN@example.com` addresses and children are linked to the ids the database returns,
so a seed can run on a database that already holds data.
"""

from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from random import Random
from typing import NamedTuple

from sqlalchemy import Table, select

from models import Bucket, Item, Tag, Todo, User, db, refresh_statistics
from models.bulk import BATCH_SIZE, insert_rows
from models.ordering import after_last
from models.todo import FAR_FUTURE, FAR_PAST, todo_tags

from .wordlists import (
    BUCKET_QUALIFIERS,
    BUCKET_THEMES,
    ITEM_NOTES,
    TODO_GROUPS,
    TODO_NOTES,
    TODO_TAGS,
)

# Creation times are spread over this past period, so sorting by date means something.
HISTORY = timedelta(days=365)
TODO_DONE, TODO_NOTED = 0.3, 0.4
ITEM_DONE, ITEM_NOTED = 0.2, 0.3
# Due dates: most todos have none; of the rest, some are past, some this week, some later.
# Each range is (share of todos, earliest and latest day from now).
DUE_RANGES = [(0.15, -30, -1), (0.15, 0, 7), (0.1, 8, 120)]
# Priorities 0 (none) to 3 (high), most todos without one.
PRIORITY_WEIGHTS = [60, 15, 15, 10]
# How many tags a todo gets (0 to 3), and how often.
TAG_COUNT_WEIGHTS = [40, 30, 20, 10]


class Plan(NamedTuple):
    """How many of each: todos, buckets and items are per user."""

    users: int = 1
    todos: int = 100
    buckets: int = 100
    items: int = 1000

    @property
    def rows(self) -> int:
        return self.users * (1 + self.todos + self.buckets + self.items)


def demo_email(number: int) -> str:
    return "demo@example.com" if number == 1 else f"demo{number}@example.com"


def free_demo_emails(count: int) -> list[str]:
    """The first `count` demo addresses no account uses yet."""
    taken = set(db.session.scalars(select(User.email).where(User.email.like("demo%@example.com"))))
    numbers = range(1, len(taken) + count + 1)
    return [email for email in map(demo_email, numbers) if email not in taken][:count]


class Seeder:
    """Draws the demo content from `rng` and inserts it, reporting rows to `progress`."""

    def __init__(self, rng: Random, progress: Callable[[int], None], batch_size: int):
        self.rng = rng
        self.progress = progress
        self.batch_size = batch_size
        self.now = datetime.now(UTC).replace(tzinfo=None)
        self.todo_titles = [
            f"{verb} {thing}" for verbs, things in TODO_GROUPS for verb in verbs for thing in things
        ]
        self.item_names = [
            [f"{verb} {thing}" for verb in verbs for thing in things]
            for _, _, verbs, things in BUCKET_THEMES
        ]

    def insert(self, table: Table, rows: Iterable[dict], return_ids: bool = False) -> list[int]:
        return insert_rows(
            db.session,
            table,
            rows,
            return_ids=return_ids,
            progress=self.progress,
            batch_size=self.batch_size,
        )

    def timeline(self, count: int) -> Iterator[datetime]:
        """`count` creation times, oldest first, over the past `HISTORY`."""
        step = HISTORY / max(count, 1)
        start = self.now - HISTORY
        return (start + step * index for index in range(count))

    def note(self, notes: list[str], share: float) -> str:
        return self.rng.choice(notes) if self.rng.random() < share else ""

    def accounts(self, emails: list[str], password: str, method: str) -> list[int]:
        """The first account through the ORM, the others in bulk with the same hash."""
        demo = User(email=emails[0])
        demo.set_password(password, method)
        db.session.add(demo)
        db.session.flush()
        self.progress(1)
        rows = ({"email": email, "password_hash": demo.password_hash} for email in emails[1:])
        return [demo.id, *self.insert(User.__table__, rows, return_ids=True)]

    def due_at(self) -> datetime | None:
        """None for most todos; else a day past, this week or later, at a whole hour."""
        draw = self.rng.random()
        for share, first, last in DUE_RANGES:
            if draw < share:
                day = self.now.replace(minute=0, second=0, microsecond=0)
                return day + timedelta(
                    days=self.rng.randint(first, last), hours=self.rng.randint(0, 23)
                )
            draw -= share
        return None

    def todo_row(self, user_id: int, created: datetime, position: str) -> dict:
        """Every column spelled out: `COPY` applies no Python-side default or validator."""
        rng = self.rng
        done = rng.random() < TODO_DONE
        due_at = self.due_at()
        return {
            "user_id": user_id,
            "title": rng.choice(self.todo_titles),
            "description": self.note(TODO_NOTES, TODO_NOTED),
            "done": done,
            "completed_at": created if done else None,
            "due_at": due_at,
            "due_first": due_at or FAR_FUTURE.replace(tzinfo=None),
            "due_last": due_at or FAR_PAST.replace(tzinfo=None),
            "priority": rng.choices(range(len(PRIORITY_WEIGHTS)), PRIORITY_WEIGHTS)[0],
            "position": position,
            "created_at": created,
            "updated_at": created,
        }

    def positions(self, count: int) -> Iterator[str]:
        """Positions in creation order, as the API appends new todos."""
        position = None
        for _ in range(count):
            position = after_last(position)
            yield position

    def todos(self, user_id: int, count: int) -> None:
        """Insert the todos, then a few tags on most of them."""
        rows = (
            self.todo_row(user_id, created, position)
            for created, position in zip(self.timeline(count), self.positions(count), strict=True)
        )
        todo_ids = self.insert(Todo.__table__, rows, return_ids=True)
        if not todo_ids:
            return
        tag_rows = ({"user_id": user_id, "name": name, "key": name} for name in TODO_TAGS)
        tag_ids = self.insert(Tag.__table__, tag_rows, return_ids=True)
        links = (
            {"tag_id": tag_id, "todo_id": todo_id}
            for todo_id in todo_ids
            for tag_id in self.rng.sample(
                tag_ids, self.rng.choices(range(len(TAG_COUNT_WEIGHTS)), TAG_COUNT_WEIGHTS)[0]
            )
        )
        self.insert(todo_tags, links)

    def bucket_name(self, theme: int) -> str:
        qualifier = self.rng.choice(BUCKET_QUALIFIERS)
        return f"{BUCKET_THEMES[theme][0]} {qualifier}".rstrip()

    def buckets(self, user_id: int, count: int) -> list[tuple[int, int]]:
        """Insert the buckets; `(id, theme)` of each."""
        themes = [self.rng.randrange(len(BUCKET_THEMES)) for _ in range(count)]
        rows = (
            {
                "user_id": user_id,
                "name": self.bucket_name(theme),
                "description": BUCKET_THEMES[theme][1],
                "created_at": created,
                "updated_at": created,
            }
            for theme, created in zip(themes, self.timeline(count), strict=True)
        )
        return list(zip(self.insert(Bucket.__table__, rows, return_ids=True), themes, strict=True))

    def item_row(self, user_id: int, bucket: tuple[int, int], created: datetime, position: str):
        """Every column spelled out, as for todos."""
        bucket_id, theme = bucket
        done = self.rng.random() < ITEM_DONE
        return {
            "bucket_id": bucket_id,
            "user_id": user_id,
            "name": self.rng.choice(self.item_names[theme]),
            "description": self.note(ITEM_NOTES, ITEM_NOTED),
            "done": done,
            "completed_at": created if done else None,
            "position": position,
            "created_at": created,
            "updated_at": created,
        }

    def items(self, user_id: int, buckets: list[tuple[int, int]], count: int) -> None:
        """Insert `count` items spread at random over the user's `buckets`, each list's
        in creation order."""
        owners = self.rng.choices(buckets, k=count)
        last: dict[int, str] = {}

        def appended(bucket_id: int) -> str:
            last[bucket_id] = after_last(last.get(bucket_id))
            return last[bucket_id]

        rows = (
            self.item_row(user_id, owner, created, appended(owner[0]))
            for owner, created in zip(owners, self.timeline(count), strict=True)
        )
        self.insert(Item.__table__, rows)


def seed(
    plan: Plan,
    password: str,
    seed: int,
    *,
    hash_method: str = "scrypt",
    progress: Callable[[int], None] = lambda rows: None,
    batch_size: int = BATCH_SIZE,
) -> list[tuple[int, str]]:
    """Insert the demo data of `plan` and commit; `(id, email)` of each new account.

    Every account gets `password`, hashed once: hashing is slow on purpose, and demo
    accounts need no more than one password between them.
    """
    if plan.items and not plan.buckets:
        raise ValueError("Items need buckets to go in: ask for at least one bucket.")
    seeder = Seeder(Random(seed), progress, batch_size)
    try:
        emails = free_demo_emails(plan.users)
        ids = seeder.accounts(emails, password, hash_method)
        for user_id in ids:
            seeder.todos(user_id, plan.todos)
            buckets = seeder.buckets(user_id, plan.buckets)
            seeder.items(user_id, buckets, plan.items)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    refresh_statistics()  # the data may have grown a hundredfold
    return list(zip(ids, emails, strict=True))
