"""Page 1 against a page half-way through a million rows, in process.

    python bench/deep_page.py [--rows 1000000] [--repeat 200]

Seeds one user's todos into a temporary SQLite file (or `--database-url`), then times
`GET /todos/` page 1, the `next` link (a keyset cursor) from half-way, and the same
half-way page asked for by number (OFFSET), through the Flask test client.
"""

import argparse
import contextlib
import re
import statistics
import tempfile
import time
from pathlib import Path

from sqlalchemy import insert

from api.config import TestingConfig
from api.factory import create_app
from models import ApiKey, Todo, User, db, utcnow


@contextlib.contextmanager
def fresh_app(database_url: str | None, name: str):
    """The API on `database_url` (default: a temporary SQLite file), in its app context,
    its tables made new (those of an earlier run dropped first); dropped afterwards."""
    with tempfile.TemporaryDirectory() as folder:
        url = database_url or f"sqlite:///{Path(folder) / f'{name}.db'}"
        app = create_app(TestingConfig(SQLALCHEMY_DATABASE_URI=url, LOG_LEVEL="WARNING"))
        with app.app_context():
            db.drop_all()
            db.create_all()
            yield app
            db.session.remove()
            db.drop_all()


def account(email: str) -> tuple[User, str]:
    """A new account with an API key (added to the session, not committed); the account
    and the key's secret."""
    user = User(email=email, password_hash="-")
    db.session.add(user)
    db.session.flush()
    key, secret = ApiKey.issue(user, "bench")
    db.session.add(key)
    return user, secret


def timed(client, url, headers, repeat):
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        response = client.get(url, headers=headers)
        samples.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.get_data(as_text=True)
    return statistics.median(samples), response


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    with fresh_app(args.database_url, "deep") as app:
        user, secret = account("deep@example.com")
        now = utcnow()
        started = time.perf_counter()
        for start in range(0, args.rows, 50_000):
            rows = [
                {"user_id": user.id, "title": f"todo {i}", "description": "",
                 "done": False, "created_at": now, "updated_at": now}
                for i in range(start, min(start + 50_000, args.rows))
            ]  # fmt: skip
            db.session.execute(insert(Todo), rows)
        db.session.commit()
        print(f"seeded {args.rows:,} todos in {time.perf_counter() - started:.1f} s")
        client = app.test_client()
        headers = {"X-API-KEY": secret}
        middle = args.rows // 2 // 20
        first_ms, _ = timed(client, "/api/v1/todos/?per_page=20", headers, args.repeat)
        offset_ms, response = timed(
            client,
            f"/api/v1/todos/?per_page=20&page={middle}",
            headers,
            max(5, args.repeat // 20),
        )
        next_link = re.search(r'<http://localhost([^>]+)>; rel="next"', response.headers["Link"])
        keyset_ms, _ = timed(client, next_link.group(1), headers, args.repeat)
        rows = [
            ("page 1", first_ms),
            (f"page {middle + 1:,} by keyset cursor", keyset_ms),
            (f"page {middle:,} by page number (OFFSET)", offset_ms),
        ]
        for label, ms in rows:
            print(f"{label:<36} {ms:8.2f} ms  {ms / first_ms:5.2f}x page 1")


if __name__ == "__main__":
    main()
