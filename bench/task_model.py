"""Every todo filter and sort on one account's million todos: page 1 and a deep page.

    python bench/task_model.py [--rows 1000000] [--repeat 30] [--database-url URL]

Seeds one account with `manage.py seed`'s realistic todos (due dates, priorities, tags,
manual order) into a temporary SQLite file (or `--database-url`, whose tables it drops),
then, through the Flask test client, times page 1 of `GET /todos/` under each filter and
sort, and the `next` page from half-way through that listing (a keyset cursor). Each
figure is a median, printed beside the plain list's page 1 on the same data.
"""

import argparse
import re
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

from api.config import TestingConfig
from api.factory import create_app
from api.tools import seed
from models import ApiKey, User, db

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


def timed(client, url: str, headers: dict, repeat: int):
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        response = client.get(url, headers=headers)
        samples.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.get_data(as_text=True)
    return statistics.median(samples), response


def next_link(response) -> str | None:
    found = re.search(r'<http://localhost([^>]+)>; rel="next"', response.headers.get("Link", ""))
    return found and found[1]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = args.database_url or f"sqlite:///{Path(folder) / 'tasks.db'}"
        app = create_app(TestingConfig(SQLALCHEMY_DATABASE_URI=url, LOG_LEVEL="WARNING"))
        with app.app_context():
            db.drop_all()
            db.create_all()
            started = time.perf_counter()
            plan = seed.Plan(users=1, todos=args.rows, buckets=0, items=0)
            ((user_id, _),) = seed.seed(plan, "bench-password", 1, hash_method="pbkdf2:sha256:1")
            key, secret = ApiKey.issue(db.session.get(User, user_id), "bench")
            db.session.add(key)
            db.session.commit()
            print(f"seeded {args.rows:,} todos in {time.perf_counter() - started:.1f} s")
            client = app.test_client()
            headers = {"X-API-KEY": secret}
            base = f"/api/v1/todos/?per_page={PER_PAGE}"
            plain_ms = None
            print(f"{'query':<52} {'rows':>9} {'page 1':>9} {'deep page':>10}  (x plain page 1)")
            for query in queries():
                first_ms, first = timed(client, f"{base}&{query}", headers, args.repeat)
                plain_ms = plain_ms or first_ms
                total = int(first.headers["X-Total-Count"])
                middle = max(1, total // 2 // PER_PAGE)
                # Reach the middle once by page number, then time its `next` (a cursor).
                _, there = timed(client, f"{base}&{query}&page={middle}", headers, 1)
                link = next_link(there)
                deep = f"{timed(client, link, headers, args.repeat)[0]:7.2f} ms" if link else "-"
                print(
                    f"{query or '(plain)':<52} {total:>9,} {first_ms:6.2f} ms {deep:>10}"
                    f"  ({first_ms / plain_ms:.2f}x"
                    + (f", {float(deep.split()[0]) / plain_ms:.2f}x)" if link else ")")
                )
            db.drop_all()


if __name__ == "__main__":
    main()
