"""A worker killed mid-load loses no acknowledged write.

`manage.py serve` (gunicorn, several workers) takes a bounded write load from several
threads; one worker gets SIGKILL while requests are in flight. The server must keep
answering, and afterwards every write it acknowledged with a 2xx must be there, once,
whole: a todo exists with exactly the fields it was created with (or, after an
acknowledged PATCH, exactly the patched ones), never a mix.
"""

import http.client
import os
import re
import signal
import threading
import time
from collections import Counter

import pytest

from tests.live import call, children, register
from tests.security.conftest import SERVE_WORKERS

pytestmark = pytest.mark.slow

THREADS = 8
CREATES_PER_THREAD = 30
PATCH_EVERY = 3  # each third todo a thread creates is then patched once


def created_fields(name: str) -> dict:
    return {"title": name, "description": f"created {name} " + "c" * 500, "done": False}


def patched_fields(name: str) -> dict:
    return {"description": f"patched {name} " + "p" * 500, "done": True}


class Load:
    """Writes from many threads, with what each one got back."""

    def __init__(self, api: str, headers: dict):
        self.api, self.headers = api, headers
        self.lock = threading.Lock()
        self.acknowledged = {}  # title -> "created" or "patched"
        self.attempted = Counter()  # title -> writes sent
        self.ids = {}
        self.unacknowledged = 0
        self.after_kill = 0
        self.killed = threading.Event()
        self.halfway = threading.Event()
        self.total = THREADS * (CREATES_PER_THREAD + CREATES_PER_THREAD // PATCH_EVERY)

    def send(self, method, path, body, name, outcome) -> dict | None:
        with self.lock:
            self.attempted[name] += 1
        try:
            status, _, answer = call(method, self.api + path, body, self.headers)
        except (OSError, http.client.HTTPException):  # the connection died with the worker
            status, answer = None, None
        with self.lock:
            if status is not None and 200 <= status < 300:
                self.acknowledged[name] = outcome
                self.after_kill += self.killed.is_set()
            else:
                self.unacknowledged += 1
            if sum(self.attempted.values()) >= self.total // 3:
                self.halfway.set()
        return answer if status is not None and 200 <= status < 300 else None

    def writer(self, thread: int) -> None:
        for i in range(CREATES_PER_THREAD):
            name = f"w{thread}-{i}"
            created = self.send("POST", "/todos/", created_fields(name), name, "created")
            if created:
                with self.lock:
                    self.ids[name] = created["id"]
                if i % PATCH_EVERY == 0:
                    path = f"/todos/{created['id']}"
                    self.send("PATCH", path, patched_fields(name), name, "patched")


def all_workers(master: int) -> set[int]:
    """The master's workers, once all of them are up (the first answers before the rest)."""
    deadline = time.monotonic() + 30
    while len(workers := children(master)) < SERVE_WORKERS and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(workers) == SERVE_WORKERS
    return workers


def every_todo(api: str, headers: dict) -> list[dict]:
    found, url = [], api + "/todos/?per_page=100"
    for _ in range(1000):
        status, head, page = call("GET", url, headers=headers)
        assert status == 200
        found += page
        following = re.search(r'<([^>]+)>; rel="next"', head.get("Link", ""))
        if not following:
            return found
        url = following[1]
    raise AssertionError("the list did not end")


def test_a_killed_worker_loses_no_acknowledged_write(database, served):
    account = register(served.base, "load@example.com")
    workers = all_workers(served.master.pid)

    load = Load(served.api, account.headers)
    threads = [threading.Thread(target=load.writer, args=(n,), daemon=True) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    assert load.halfway.wait(timeout=120), "the load did not get going"
    victim = min(workers)
    os.kill(victim, signal.SIGKILL)
    load.killed.set()
    for thread in threads:
        thread.join(timeout=300)
    assert not any(thread.is_alive() for thread in threads)

    # The server kept answering, and the master replaced the worker.
    assert load.after_kill > 0
    assert call("GET", served.base + "/healthz")[0] == 200
    assert victim not in all_workers(served.master.pid)

    todos = every_todo(served.api, account.headers)
    titles = Counter(todo["title"] for todo in todos)
    assert [title for title, n in titles.items() if n > 1] == []  # none duplicated
    found = 0  # acknowledged writes whose result is there
    for todo in todos:
        name = todo["title"]
        assert name in load.attempted, name
        state = {key: todo[key] for key in ("description", "done")}
        created = {key: created_fields(name)[key] for key in ("description", "done")}
        patched = patched_fields(name)
        # Never half-written: all of one write or all of the other.
        assert state in (created, patched), name
        if load.acknowledged.get(name) == "patched":
            assert state == patched, name
            found += 2  # its creation and its patch
        elif name in load.acknowledged:
            found += 1
    acknowledged = sum(1 + (outcome == "patched") for outcome in load.acknowledged.values())
    print(
        f"crash test ({'PostgreSQL' if database else 'SQLite'}): {acknowledged} writes "
        f"acknowledged, {found} found; {load.unacknowledged} unacknowledged; "
        f"{load.after_kill} acknowledged after the kill"
    )
    assert found == acknowledged
