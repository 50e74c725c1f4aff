"""Convergence: a client that syncs while writers work through two server processes ends
with exactly what a fresh full listing shows.

Two `manage.py serve` processes (two gunicorn workers each) share one database: SQLite,
and PostgreSQL where it answers. Writer threads create, change, move and delete todos and
the items of one bucket list, each request sent to either server (a seeded random choice),
for a bounded number of operations and seconds. Meanwhile a client keeps a replica: one
full listing first, then sync after sync with the last token it was handed. After the
writers stop, one last sync; the replica must equal a fresh full listing, for the todos
and for the items. A change the record skipped, or a token handed past a change not yet
committed, leaves the replica behind.
"""

import random
import re
import threading
import time
import uuid
from urllib.parse import urlencode

import pytest

from tests.clients import call
from tests.live import answers, manage, server, server_database

POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
WRITERS = 4
OPERATIONS = 250  # per writer
SECONDS = 25  # the writers stop after this long, whatever they have done
SEED = 20261204

pytestmark = pytest.mark.slow


@pytest.fixture(
    scope="module",
    params=[
        "sqlite",
        pytest.param(
            "postgresql",
            marks=pytest.mark.skipif(
                not answers(5432), reason="needs PostgreSQL on 127.0.0.1:5432"
            ),
        ),
    ],
)
def servers(request, tmp_path_factory):
    """Two serve processes on one database of their own; their API roots."""
    folder = tmp_path_factory.mktemp("sync")
    database = None if request.param == "sqlite" else {"url": POSTGRES_URL}
    with server_database(database, folder) as url:
        env = {
            "DATABASE_URL": url,
            "APP_ENV": "production",
            "SECRET_KEY": "convergence",
            "RATELIMIT_ENABLED": "false",
        }
        manage("db", "upgrade", env=env)
        command = ("serve", "--workers", "2", "--threads", "2")
        with (
            server(*command, env=env, log=folder / "one.log") as one,
            server(*command, env=env, log=folder / "two.log") as two,
        ):
            yield request.param, [one + "/api/v1", two + "/api/v1"]


def register(root: str) -> dict:
    email = f"{uuid.uuid4().hex[:10]}@example.com"
    body = {"email": email, "password": "password-123"}
    assert call(root + "/auth/register", "POST", body).status == 201
    token = call(root + "/auth/login", "POST", body).body["access_token"]
    key = call(root + "/auth/keys/", "POST", {"name": "sync"}, {"Authorization": f"Bearer {token}"})
    return {"X-API-KEY": key.body["key"]}


class Writer(threading.Thread):
    """Random writes to one list (todos, or one bucket list's items) through both servers."""

    def __init__(self, roots, headers, path, seed, deadline, make_body):
        super().__init__(daemon=True)
        self.roots, self.headers, self.path = roots, headers, path
        self.random = random.Random(seed)
        self.deadline, self.make_body = deadline, make_body
        self.ids: list[int] = []
        self.done = 0
        self.errors: list = []

    def request(self, method, path, body=None):
        root = self.random.choice(self.roots)
        result = call(root + path, method, body, self.headers)
        if result.status >= 500 or result.status in (400, 401, 403, 409, 429):
            self.errors.append((method, path, result.status, result.body))
        return result

    def run(self):
        for _ in range(OPERATIONS):
            if time.monotonic() > self.deadline:
                return
            action = self.random.choice(["create", "create", "update", "move", "delete"])
            if action == "create" or not self.ids:
                created = self.request("POST", self.path, self.make_body(self.random))
                if created.status == 201:
                    self.ids.append(created.body["id"])
            elif action == "update":
                target = self.random.choice(self.ids)
                self.request("PATCH", f"{self.path}{target}", self.make_body(self.random))
            elif action == "move":
                target = self.random.choice(self.ids)
                after = self.random.choice([None, *self.ids])
                if after != target:
                    self.request("POST", f"{self.path}{target}/move", {"after": after})
            else:
                target = self.ids.pop(self.random.randrange(len(self.ids)))
                self.request("DELETE", f"{self.path}{target}")
            self.done += 1


def todo_body(rng: random.Random) -> dict:
    return {
        "title": f"todo {rng.randrange(10**6)}",
        "done": rng.random() < 0.3,
        "priority": rng.randrange(4),
        "tags": rng.sample(["home", "work", "errands", "later"], rng.randrange(3)),
    }


def item_body(rng: random.Random) -> dict:
    return {"name": f"item {rng.randrange(10**6)}", "done": rng.random() < 0.3}


def walk(root: str, path: str, headers: dict, query: dict) -> tuple[list, str, int]:
    """Every row a list hands out along its `next` links; the last token it handed, and
    how many pages it took."""
    url = f"{root}{path}?{urlencode(query)}"
    rows, pages = [], 0
    while True:
        result = call(url, "GET", None, headers)
        assert result.status == 200, result.body
        rows += result.body
        pages += 1
        token = result.headers["X-Sync-Token"]
        following = re.search(r'<([^>]+)>; rel="next"', result.headers.get("Link", ""))
        if following is None:
            return rows, token, pages
        url = following.group(1)


class Replica:
    """A client's copy of one list, kept by sync."""

    def __init__(self, root: str, path: str, headers: dict):
        self.root, self.path, self.headers = root, path, headers
        rows, self.token, _ = walk(root, path, headers, {"per_page": 50})
        self.rows = {row["id"]: row for row in rows}
        self.syncs = self.changes = 0

    def sync(self) -> None:
        changes, self.token, pages = walk(
            self.root, self.path, self.headers, {"since": self.token, "per_page": 25}
        )
        self.syncs += pages
        self.changes += len(changes)
        for row in changes:
            if row.get("deleted"):
                self.rows.pop(row["id"], None)
            else:
                self.rows[row["id"]] = row

    def matches_a_full_listing(self) -> bool:
        rows, _, _ = walk(self.root, self.path, self.headers, {"per_page": 100})
        return self.rows == {row["id"]: row for row in rows}


def test_a_syncing_client_converges_with_the_server(servers, record_property):
    kind, roots = servers
    headers = register(roots[0])
    bucket = call(roots[0] + "/bucketlists/", "POST", {"name": "Travel"}, headers).body
    items = f"/bucketlists/{bucket['id']}/items/"
    # The client reads through the first server: `uri`s name the server that answered.
    replicas = [Replica(roots[0], "/todos/", headers), Replica(roots[0], items, headers)]
    deadline = time.monotonic() + SECONDS
    writers = [
        Writer(roots, headers, path, SEED + n, deadline, body)
        for n, (path, body) in enumerate(
            [("/todos/", todo_body), (items, item_body)] * (WRITERS // 2)
        )
    ]
    started = time.monotonic()
    for writer in writers:
        writer.start()
    while any(writer.is_alive() for writer in writers):
        for replica in replicas:
            replica.sync()
    for writer in writers:
        writer.join()
    elapsed = time.monotonic() - started
    for replica in replicas:
        replica.sync()
    assert [error for writer in writers for error in writer.errors] == []
    operations = sum(writer.done for writer in writers)
    figures = {
        "database": kind,
        "operations": operations,
        "seconds": round(elapsed, 1),
        "sync_pages": [replica.syncs for replica in replicas],
        "changes_applied": [replica.changes for replica in replicas],
        "replica_rows": [len(replica.rows) for replica in replicas],
    }
    record_property("convergence", figures)
    print("convergence:", figures)
    assert operations >= 100, figures  # the writers did real work before the deadline
    for replica, name in zip(replicas, ("todos", "items"), strict=True):
        assert replica.matches_a_full_listing(), f"the {name} replica diverged: {figures}"
