"""The task model at scale: todo filters and sorts, and a bucket list of a million items.

    python bench/task_model.py [--rows 1000000] [--repeat 30] [--part todos|items|all]
                               [--database-url URL]

`todos`: seeds one account with `manage.py seed`'s realistic todos (due dates,
priorities, tags, manual order) into a temporary SQLite file (or `--database-url`, whose
tables it drops), then, through the Flask test client, times page 1 of `GET /todos/`
under each filter and sort, and the `next` page from half-way through that listing (a
keyset cursor). Each figure is a median, printed beside the plain list's page 1.

`items`: one bucket list of `--rows` items beside one of 10 and one of 1,000: `GET` of
each list (which embeds its first 100 items), page 1 and a deep page of its items in
`sort=position`, and a move of an item in the middle of each list.
"""

import argparse
import re
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

from deep_page import timed  # bench/ is on the path when a bench script runs

from api.config import TestingConfig
from api.factory import create_app
from api.tools import seed
from models import ApiKey, Bucket, Item, User, db
from models.ordering import after_last

PER_PAGE = 20


def queries() -> list[str]:
    now = datetime.now(UTC)
    week = quote((now + timedelta(days=7)).isoformat(timespec="seconds"))
    today = quote(now.isoformat(timespec="seconds"))
    return [
        "",
        "sort=due_at",
        "sort=-due_at",
        "sort=priority",
        "sort=-priority",
        "sort=position",
        "sort=-position",
        f"due_before={week}",
        f"due_after={today}&due_before={week}&sort=due_at",
        "overdue=true",
        "overdue=true&sort=due_at",
        "priority=3",
        "priority=3&sort=due_at",
        "tag=home",
        "tag=home&tag=urgent",
        "tag=work&sort=-priority",
        "done=false&tag=errands&sort=due_at",
        "q=call&tag=home",
    ]


def next_link(response) -> str | None:
    found = re.search(r'<http://localhost([^>]+)>; rel="next"', response.headers.get("Link", ""))
    return found and found[1]


def account(rows: int, **plan) -> tuple[dict, int]:
    """Seed one account (`seed.Plan` counts); its API key headers and user id."""
    started = time.perf_counter()
    ((user_id, _),) = seed.seed(
        seed.Plan(users=1, **plan), "bench-password", 1, hash_method="pbkdf2:sha256:1"
    )
    key, secret = ApiKey.issue(db.session.get(User, user_id), "bench")
    db.session.add(key)
    db.session.commit()
    print(f"seeded {rows:,} rows in {time.perf_counter() - started:.1f} s")
    return {"X-API-KEY": secret}, user_id


def todo_filters(client, rows: int, repeat: int) -> None:
    headers, _ = account(rows, todos=rows, buckets=0, items=0)
    base = f"/api/v1/todos/?per_page={PER_PAGE}"
    plain_ms = None
    print(f"{'query':<52} {'matches':>9} {'page 1':>9} {'deep page':>10}  (x plain page 1)")
    for query in queries():
        first_ms, first = timed(client, f"{base}&{query}", headers, repeat)
        plain_ms = plain_ms or first_ms
        # A list of more than 1,000 matches tells no total: try half-way into its first
        # 100,000 rows, and halve that until the page there has a `next`.
        total = first.headers.get("X-Total-Count")
        middle = max(1, (int(total) if total else 100_000) // 2 // PER_PAGE)
        while True:
            # Reach the page once by number, then time its `next` (a cursor).
            _, there = timed(client, f"{base}&{query}&page={middle}", headers, 1)
            link = next_link(there)
            if link or middle == 1:
                break
            middle //= 2
        deep = f"{timed(client, link, headers, repeat)[0]:7.2f} ms" if link else "-"
        print(
            f"{query or '(plain)':<52} {total or '> 1,000':>9} {first_ms:6.2f} ms {deep:>10}"
            f"  ({first_ms / plain_ms:.2f}x"
            + (f", {float(deep.split()[0]) / plain_ms:.2f}x)" if link else ")")
        )


def bucket_of(user_id: int, size: int) -> int:
    """A bucket list of `size` items in creation order, inserted in bulk."""
    bucket = Bucket(user_id=user_id, name=f"{size:,} items")
    db.session.add(bucket)
    db.session.flush()
    position, rows = None, []
    for number in range(size):
        position = after_last(position)
        rows.append(
            {
                "bucket_id": bucket.id,
                "user_id": user_id,
                "name": f"item {number}",
                "position": position,
            }
        )
    if rows:
        db.session.execute(Item.__table__.insert(), rows)
    db.session.commit()
    return bucket.id


def bucket_lists(client, rows: int, repeat: int) -> None:
    headers, user_id = account(rows, todos=0, buckets=1, items=rows)
    big = db.session.scalar(db.select(Bucket.id).where(Bucket.user_id == user_id))
    sizes = {10: bucket_of(user_id, 10), 1000: bucket_of(user_id, 1000), rows: big}
    print(f"{'items':>9} {'GET list':>10} {'items p1':>10} {'deep page':>10} {'move':>10}")
    for size, bucket_id in sizes.items():
        url = f"/api/v1/bucketlists/{bucket_id}"
        got_ms, got = timed(client, url, headers, repeat)
        assert len(got.get_json()["items"]) == min(size, 100)
        items = f"{url}/items/?sort=position&per_page={PER_PAGE}"
        first_ms, _ = timed(client, items, headers, repeat)
        _, there = timed(client, f"{items}&page={max(1, size // 2 // PER_PAGE)}", headers, 1)
        link = next_link(there)
        deep = f"{timed(client, link, headers, repeat)[0]:7.2f} ms" if link else "-"
        # Move one item of the middle after each of two others in turn.
        middle = [item["id"] for item in there.get_json()[:3]]
        samples = []
        for turn in range(repeat):
            started = time.perf_counter()
            moved = client.post(
                f"{url}/items/{middle[0]}/move",
                json={"after": middle[1 + turn % 2]},
                headers=headers,
            )
            samples.append((time.perf_counter() - started) * 1000)
            assert moved.status_code == 200, moved.get_data(as_text=True)
        print(
            f"{size:>9,} {got_ms:7.2f} ms {first_ms:7.2f} ms {deep:>10} "
            f"{statistics.median(samples):7.2f} ms"
        )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--part", choices=("todos", "items", "all"), default="all")
    parser.add_argument("--database-url")
    args = parser.parse_args()
    parts = {"todos": todo_filters, "items": bucket_lists}
    with tempfile.TemporaryDirectory() as folder:
        url = args.database_url or f"sqlite:///{Path(folder) / 'tasks.db'}"
        app = create_app(TestingConfig(SQLALCHEMY_DATABASE_URI=url, LOG_LEVEL="WARNING"))
        with app.app_context():
            for name, part in parts.items():
                if args.part not in (name, "all"):
                    continue
                db.drop_all()
                db.create_all()
                part(app.test_client(), args.rows, args.repeat)
            db.drop_all()


if __name__ == "__main__":
    main()
