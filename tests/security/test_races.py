"""Concurrent requests against `manage.py serve` (several gunicorn workers) keep their
promises: bounded numbers of threads, released together by a barrier."""

from functools import partial

import pytest
from sqlalchemy import create_engine, text

from tests.clients import together
from tests.live import call, register

pytestmark = pytest.mark.slow

CLIENTS = 16
UPDATES_PER_CLIENT = 5
MAX_ATTEMPTS = 100  # per update, so every loop ends


def concurrently(task, count: int = CLIENTS) -> list:
    """`task(i)` for i in range(count), from `count` threads released at once."""
    return together([partial(task, i) for i in range(count)], timeout=120)


def scalar(database_url: str, query: str, **params):
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            return connection.execute(text(query), params).scalar()
    finally:
        engine.dispose()


def test_concurrent_registrations_of_one_email_make_one_account(served):
    api, database_url = served.api, served.database_url
    spellings = ["race@example.com", "RACE@example.com", "Race@Example.COM"]

    def register_one(i):
        body = {"email": spellings[i % len(spellings)], "password": f"password-{i:02}"}
        return call("POST", api + "/auth/register", body)[0]

    statuses = concurrently(register_one)
    assert sorted(statuses) == [201] + [409] * (CLIENTS - 1)
    users = "SELECT count(*) FROM users WHERE lower(email) = 'race@example.com'"
    assert scalar(database_url, users) == 1
    # The one account is the winner's: its password logs in, the others' do not.
    winner = statuses.index(201)
    for i in range(CLIENTS):
        login = {"email": "race@example.com", "password": f"password-{i:02}"}
        assert call("POST", api + "/auth/login", login)[0] == (200 if i == winner else 401)


def create_todo(api: str, headers: dict, title: str) -> dict:
    status, _, todo = call("POST", api + "/todos/", {"title": title}, headers)
    assert status == 201
    return todo


def test_concurrent_patches_with_one_etag_let_exactly_one_through(served):
    account = register(served.base, "editor@example.com")
    todo = create_todo(served.api, account.headers, "contended")
    url = f"{served.api}/todos/{todo['id']}"
    _, head, _ = call("GET", url, headers=account.headers)
    etag = head["ETag"]

    def patch(i):
        headers = {**account.headers, "If-Match": etag}
        return call("PATCH", url, {"description": f"editor {i}"}, headers)

    replies = concurrently(patch)
    statuses = sorted(status for status, _, _ in replies)
    assert statuses == [200] + [412] * (CLIENTS - 1)
    [winner] = [body for status, _, body in replies if status == 200]
    assert call("GET", url, headers=account.headers)[2]["description"] == winner["description"]


def test_read_modify_write_loops_with_if_match_lose_no_update(served):
    account = register(served.base, "counter@example.com")
    todo = create_todo(served.api, account.headers, "tally")
    url = f"{served.api}/todos/{todo['id']}"

    def append(i):
        """Add this client's marks one at a time: read, change, write if unchanged."""
        conflicts = 0
        for n in range(UPDATES_PER_CLIENT):
            mark = f"c{i}.{n}"
            for _ in range(MAX_ATTEMPTS):
                _, head, current = call("GET", url, headers=account.headers)
                marks = f"{current['description']} {mark}".strip()
                headers = {**account.headers, "If-Match": head["ETag"]}
                status = call("PATCH", url, {"description": marks}, headers)[0]
                if status == 200:
                    break
                assert status == 412
                conflicts += 1
            else:
                raise AssertionError(f"{mark} was refused {MAX_ATTEMPTS} times")
        return conflicts

    conflicts = concurrently(append)
    marks = call("GET", url, headers=account.headers)[2]["description"].split()
    expected = [f"c{i}.{n}" for i in range(CLIENTS) for n in range(UPDATES_PER_CLIENT)]
    assert sorted(marks) == sorted(expected)  # every update, once
    print(f"if-match: {len(expected)} updates, {sum(conflicts)} retried after a 412")


def test_concurrent_posts_with_one_idempotency_key_create_one_row(served):
    account = register(served.base, "retrier@example.com")
    headers = {**account.headers, "Idempotency-Key": "create-the-report-todo"}
    body = {"title": "Write the report"}

    def post(i):
        return call("POST", served.api + "/todos/", body, headers)

    replies = concurrently(post)
    created = {reply[2]["id"] for reply in replies if reply[0] == 201}
    assert len(created) == 1
    assert {status for status, _, _ in replies} <= {201, 409}
    # Once the first has answered, a retry replays it.
    status, head, replayed = call("POST", served.api + "/todos/", body, headers)
    assert status == 201 and {replayed["id"]} == created and head["Idempotent-Replayed"]
    rows = "SELECT count(*) FROM todos WHERE title = 'Write the report'"
    assert scalar(served.database_url, rows) == 1
