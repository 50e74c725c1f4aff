"""Consistency under races and on error paths (issue 17, item 6).

Races are bounded bursts of threads released together (`tests.clients.together`);
each request runs on a thread of its own, so it pushes and tears down its own app
context, as a request does in a server. Errors are answered as in production: the
module turns off the testing configuration's propagation of exceptions.
"""

import sqlite3
import threading
from collections import Counter
from functools import partial

import psycopg.errors
import pytest
from flask import request
from sqlalchemy import event, func, insert, select, text
from sqlalchemy.exc import OperationalError

import namespaces.todos
from api.plumbing.bodies import problem
from api.plumbing.errors import error_body
from models import Item, Tag, db, utcnow
from models.todo import todo_tags
from tests.clients import AppHttp, together
from tests.conftest import TEST_DATABASE_URL

RACERS = 40  # threads per round
ROUNDS = 5  # so 200 racing requests per test
ROUND_TIMEOUT = 60  # seconds; `together` fails a round that takes longer
SECRET = "internal detail that must not reach a client"


@pytest.fixture
def config_overrides():
    # Production answers an unexpected error with a 500 body; the testing configuration
    # would hand the exception to the test instead.
    return {"PROPAGATE_EXCEPTIONS": False}


@pytest.fixture
def api(app, alice) -> AppHttp:
    """Alice's requests; each call may run on a thread of its own."""
    return AppHttp(app, alice.headers)


def orphaned_items() -> int:
    """Item rows whose bucket list does not exist, read on a connection of its own."""
    query = "SELECT count(*) FROM items WHERE bucket_id NOT IN (SELECT id FROM buckets)"
    with db.engine.connect() as connection:
        return connection.scalar(text(query))


def deadlock() -> OperationalError:
    return OperationalError("SELECT 1", {}, psycopg.errors.DeadlockDetected("deadlock detected"))


def serialization_failure() -> OperationalError:
    return OperationalError(
        "SELECT 1", {}, psycopg.errors.SerializationFailure("could not serialize access")
    )


def database_away() -> OperationalError:
    return OperationalError("SELECT 1", {}, sqlite3.OperationalError("unable to open database"))


def parent_deleted_under_a_copy() -> psycopg.Error:
    """What a bulk `COPY` (models.bulk) meets when the account it writes for is deleted
    meanwhile: the driver's own error, not wrapped by SQLAlchemy."""
    return psycopg.errors.ForeignKeyViolation("insert or update on table violates foreign key")


def database_away_under_a_copy() -> psycopg.Error:
    return psycopg.OperationalError("server closed the connection unexpectedly")


def unexpected() -> RuntimeError:
    return RuntimeError(SECRET)


# What each error is answered with: (status, Retry-After).
ANSWERS = {
    deadlock: (409, "1"),
    serialization_failure: (409, "1"),
    database_away: (503, "5"),
    parent_deleted_under_a_copy: (409, "1"),
    database_away_under_a_copy: (503, "5"),
    unexpected: (500, None),
}


def raising(make_error):
    """A loader that touches the database (so a connection is in use) and then fails."""

    def load(*args, **kwargs):
        db.session.execute(select(1))
        raise make_error()

    return load


def alone(call, timeout: float = 30):
    """`call()` on a fresh thread, which has no app context; its result once joined."""
    outcome = {}

    def run():
        try:
            outcome["result"] = call()
        except BaseException as error:  # re-raised on the test's thread
            outcome["error"] = error

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout)
    assert not thread.is_alive(), f"the request took more than {timeout}s"
    if "error" in outcome:
        raise outcome["error"]
    return outcome["result"]


# --- 1. Writing items of a bucket list while it is deleted ----------------------------


def add_item(api, bucket_id, item_id, n):
    return api("POST", f"/bucketlists/{bucket_id}/items/", {"name": f"item {n}"})


def change_item(api, bucket_id, item_id, n):
    return api("PATCH", f"/bucketlists/{bucket_id}/items/{item_id}", {"done": True})


def delete_item(api, bucket_id, item_id, n):
    return api("DELETE", f"/bucketlists/{bucket_id}/items/{item_id}")


def items_of(bucket_id: int, account, count: int) -> list[int]:
    """`count` new items in the bucket list, inserted in one statement; their ids."""
    now = utcnow()
    rows = [
        {"bucket_id": bucket_id, "user_id": account.user.id, "name": f"item {n}",
         "description": "", "done": False, "created_at": now, "updated_at": now}
        for n in range(count)
    ]  # fmt: skip
    returning = insert(Item).returning(Item.id, sort_by_parameter_order=True)
    ids = db.session.scalars(returning, rows).all()
    db.session.commit()
    return list(ids)


@pytest.mark.parametrize(
    ("write", "success"),
    [(add_item, 201), (change_item, 200), (delete_item, 204)],
    ids=["POST", "PATCH", "DELETE"],
)
def test_item_writes_racing_the_deletion_of_their_list_are_404_never_500(
    api, alice, write, success
):
    """Each round one DELETE of a fresh bucket list is released together with RACERS - 1
    writes of its items: each write lands before the deletion or finds the list gone."""
    outcomes = Counter()
    for round_number in range(ROUNDS):
        bucket = api("POST", "/bucketlists/", {"name": f"round {round_number}"})
        assert bucket.status == 201, bucket
        bucket_id = bucket.body["id"]
        item_ids = [None] * (RACERS - 1)
        if write is not add_item:
            item_ids = items_of(bucket_id, alice, RACERS - 1)
        tasks = [partial(api, "DELETE", f"/bucketlists/{bucket_id}")]
        tasks += [partial(write, api, bucket_id, item_ids[n], n) for n in range(RACERS - 1)]
        results = together(tasks, timeout=ROUND_TIMEOUT)

        statuses = [result.status for result in results]
        unexpected_statuses = set(statuses[1:]) - {success, 404}
        seen = (round_number, Counter(statuses[1:]), results[0])
        assert (statuses[0], unexpected_statuses) == (204, set()), seen
        outcomes.update(statuses[1:])
        for result in results[1:]:
            if result.status == 404:
                assert result.body["message"], result
        assert api("GET", f"/bucketlists/{bucket_id}").status == 404
        assert orphaned_items() == 0, round_number
    # The race was run: some writes came before the deletion and some after it.
    assert outcomes[success] and outcomes[404], outcomes


# --- 2. Writes without If-Match never fail for a race ---------------------------------

EDITORS, ADDERS, WRITES_EACH = 6, 6, 4


@pytest.mark.parametrize("method", ["PATCH", "PUT"])
def test_unconditional_writes_of_a_list_while_items_are_added_all_succeed(api, method):
    """Threads changing a bucket list and threads adding items to it, all released
    together: every write succeeds (no 409, no 500 or 503), and every item is counted."""
    bucket = api("POST", "/bucketlists/", {"name": "contended"})
    assert bucket.status == 201, bucket
    path = f"/bucketlists/{bucket.body['id']}"

    def edit(editor):
        return [
            api(method, path, {"name": f"editor {editor}.{n}", "description": "edited"})
            for n in range(WRITES_EACH)
        ]

    def add(adder):
        return [
            api("POST", path + "/items/", {"name": f"adder {adder}.{n}"})
            for n in range(WRITES_EACH)
        ]

    tasks = [partial(edit, i) for i in range(EDITORS)] + [partial(add, i) for i in range(ADDERS)]
    results = together(tasks, timeout=ROUND_TIMEOUT)
    edits = [result for batch in results[:EDITORS] for result in batch]
    adds = [result for batch in results[EDITORS:] for result in batch]

    assert [result for result in edits if result.status != 200] == []
    assert [result for result in adds if result.status != 201] == []
    final = api("GET", path)
    names = {result.body["name"] for result in edits}
    assert final.body["name"] in names
    assert final.body["item_count"] == len(adds) == ADDERS * WRITES_EACH
    assert sorted(item["id"] for item in final.body["items"]) == sorted(
        result.body["id"] for result in adds
    )


TAGS = ["home", "errands", "later", "urgent"]


@pytest.mark.postgres
@pytest.mark.skipif(not TEST_DATABASE_URL, reason="needs TEST_DATABASE_URL (PostgreSQL)")
def test_todos_gaining_and_losing_the_same_tags_at_once_all_succeed(api):
    """Creating todos with tags, retagging them and deleting them, all released together,
    with the tags named in every order: each tag's count is locked in one order (id) by
    every writer, before the account's count, so no write is refused as a deadlock. (With
    the counts locked in the order of a join, rounds like these met 409s on PostgreSQL.)
    SQLite lets one writer in at a time: no lock order there to get wrong."""
    orders = [TAGS, TAGS[::-1], TAGS[1:] + TAGS[:1], TAGS[2:] + TAGS[:2]]
    outcomes = Counter()
    for round_number in range(ROUNDS):
        existing = [
            api("POST", "/todos/", {"title": f"old {n}", "tags": orders[n % 4]}).body["id"]
            for n in range(2 * RACERS // 3)
        ]
        retagged, deleted = existing[: len(existing) // 2], existing[len(existing) // 2 :]
        tasks = [
            partial(api, "POST", "/todos/", {"title": f"new {n}", "tags": orders[n % 4]})
            for n in range(RACERS - len(existing))
        ]
        tasks += [
            partial(api, "PATCH", f"/todos/{id}", {"tags": orders[(n + 1) % 4][: 1 + n % 4]})
            for n, id in enumerate(retagged)
        ]
        tasks += [partial(api, "DELETE", f"/todos/{id}") for id in deleted]
        results = together(tasks, timeout=ROUND_TIMEOUT)
        refused = [result for result in results if result.status not in (200, 201, 204)]
        assert refused == [], (round_number, refused[:3])
        outcomes.update(result.status for result in results)
    # And every tag's count is exact.
    tagged = select(func.count()).where(todo_tags.c.tag_id == Tag.id).scalar_subquery()
    db.session.remove()
    counts = db.session.execute(select(Tag.key, Tag.todo_count, tagged)).all()
    assert len(counts) == len(TAGS)
    assert [(key, kept) for key, kept, _ in counts] == [(key, n) for key, _, n in counts]
    assert outcomes[201] and outcomes[200] and outcomes[204], outcomes


# --- 3. Deadlocks and serialization failures are conflicts, not outages ---------------


@pytest.fixture
def todo(api) -> dict:
    created = api("POST", "/todos/", {"title": "Buy milk"})
    assert created.status == 201, created
    return created.body


def check_answer(response, status: int, retry_after: str | None) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.headers.get("Retry-After") == retry_after
    assert response.is_json
    body = response.get_json()
    assert isinstance(body["message"], str) and body["message"]
    text_of_body = response.get_data(as_text=True)
    assert "Traceback" not in text_of_body and SECRET not in text_of_body
    return body


def test_the_driver_errors_carry_the_sqlstates_the_api_reads():
    assert deadlock().orig.sqlstate == "40P01"
    assert serialization_failure().orig.sqlstate == "40001"
    assert getattr(database_away().orig, "sqlstate", None) is None


@pytest.mark.parametrize("make_error", [deadlock, serialization_failure], ids=["40P01", "40001"])
def test_a_deadlock_or_serialization_failure_is_409_with_retry_after(
    auth_client, todo, monkeypatch, make_error
):
    monkeypatch.setattr("namespaces.todos.load_todo", raising(make_error))
    response = auth_client.patch(f"/api/v1/todos/{todo['id']}", json={"title": "Mine"})
    check_answer(response, 409, "1")
    monkeypatch.undo()
    assert auth_client.get(f"/api/v1/todos/{todo['id']}").get_json()["title"] == "Buy milk"


def test_an_unavailable_database_is_503_with_retry_after(auth_client, todo, monkeypatch):
    monkeypatch.setattr("namespaces.todos.load_todo", raising(database_away))
    response = auth_client.patch(f"/api/v1/todos/{todo['id']}", json={"title": "Mine"})
    check_answer(response, 503, "5")


@pytest.mark.postgres
@pytest.mark.skipif(not TEST_DATABASE_URL, reason="needs TEST_DATABASE_URL (PostgreSQL)")
@pytest.mark.parametrize(("sqlstate", "name"), [("40P01", "deadlock"), ("40001", "serialization")])
def test_postgresql_raising_the_sqlstate_itself_is_409(
    auth_client, todo, monkeypatch, sqlstate, name
):
    """The error as the driver raises it, from the server, mid-transaction."""
    load_todo = namespaces.todos.load_todo

    def load(id, *args, **kwargs):
        found = load_todo(id, *args, **kwargs)  # the row is locked: a transaction is open
        db.session.execute(
            text(f"DO $$ BEGIN RAISE EXCEPTION '{name}' USING ERRCODE = '{sqlstate}'; END $$")
        )
        return found

    monkeypatch.setattr("namespaces.todos.load_todo", load)
    response = auth_client.patch(f"/api/v1/todos/{todo['id']}", json={"title": "Mine"})
    check_answer(response, 409, "1")
    monkeypatch.undo()
    # The aborted transaction was rolled back: the next write goes through.
    again = auth_client.patch(f"/api/v1/todos/{todo['id']}", json={"title": "Mine"})
    assert again.status_code == 200 and again.get_json()["title"] == "Mine"


# --- 4. One answer to an error, inside the blueprint and outside it --------------------


@pytest.mark.parametrize("make_error", list(ANSWERS), ids=lambda make: make.__name__)
def test_an_error_reads_the_same_inside_and_outside_the_blueprint(
    app, auth_client, monkeypatch, make_error
):
    def boom():
        raise make_error()

    app.add_url_rule("/boom", "boom", boom)  # before the app's first request
    monkeypatch.setattr("namespaces.todos.load_todo", raising(make_error))

    inside = auth_client.get("/api/v1/todos/1")  # the patched loader fails first
    outside = auth_client.get("/boom")

    status, retry_after = ANSWERS[make_error]
    body = check_answer(inside, status, retry_after)
    assert check_answer(outside, status, retry_after) == body
    assert inside.headers["Content-Type"] == outside.headers["Content-Type"]
    # Both are the one function's answer, as problem details.
    expected, expected_status, expected_headers = error_body(make_error())
    assert (body, status, retry_after) == (
        problem(expected, expected_status),
        expected_status,
        expected_headers.get("Retry-After"),
    )


# --- 5. No pooled connection stays checked out, whatever the answer -------------------


def patch_todo(todo, headers=None, body=None):
    return ("PATCH", f"/todos/{todo['id']}", body or {"title": "x"}, headers or {})


DUPLICATE = {"email": "alice@example.com", "password": "password-123"}
# name: (the request for a todo, its status, the error its loader raises or None)
REQUESTS = {
    "200 PATCH": (patch_todo, 200, None),
    "201 POST": (lambda todo: ("POST", "/todos/", {"title": "x"}, {}), 201, None),
    "404 unknown todo": (lambda todo: ("GET", "/todos/987654", None, {}), 404, None),
    "400 bad body": (partial(patch_todo, body={"done": "maybe"}), 400, None),
    "412 stale If-Match": (partial(patch_todo, headers={"If-Match": '"stale"'}), 412, None),
    "401 bad key": (lambda todo: ("GET", "/todos/", None, {"X-API-KEY": "wrong"}), 401, None),
    "409 duplicate register": (lambda todo: ("POST", "/auth/register", DUPLICATE, {}), 409, None),
    "500 handler raises": (patch_todo, 500, unexpected),
    "503 database away": (patch_todo, 503, database_away),
    "409 deadlock": (patch_todo, 409, deadlock),
}


@pytest.mark.parametrize("case", list(REQUESTS))
def test_no_connection_stays_checked_out_after_a_request(app, api, todo, monkeypatch, case):
    pool = db.engine.pool
    if not hasattr(pool, "checkedout"):
        pytest.skip(f"{type(pool).__name__} does not count checked-out connections")
    request, status, make_error = REQUESTS[case]
    method, path, body, headers = request(todo)
    # The test's own app context holds no connection either.
    db.session.remove()
    assert pool.checkedout() == 0
    if make_error is not None:
        monkeypatch.setattr("namespaces.todos.load_todo", raising(make_error))

    result = alone(partial(api, method, path, body, headers))

    assert result.status == status, result
    assert pool.checkedout() == 0, f"{type(pool).__name__}: {pool.status()}"


def test_the_pool_counts_a_connection_a_request_keeps(app, api, todo, monkeypatch):
    """The check above can fail: a connection left checked out is counted."""
    pool = db.engine.pool
    if not hasattr(pool, "checkedout"):
        pytest.skip(f"{type(pool).__name__} does not count checked-out connections")
    db.session.remove()
    kept = []

    def leak(*args, **kwargs):
        kept.append(db.engine.connect())
        raise unexpected()

    monkeypatch.setattr("namespaces.todos.load_todo", leak)
    assert alone(partial(api, "GET", f"/todos/{todo['id']}")).status == 500
    assert pool.checkedout() == 1
    kept[0].close()
    assert pool.checkedout() == 0


# --- 7. PostgreSQL reads without a transaction ------------------------------------------


@pytest.mark.postgres
@pytest.mark.skipif(not TEST_DATABASE_URL, reason="needs TEST_DATABASE_URL (PostgreSQL)")
def test_reads_run_in_autocommit_and_writes_in_a_transaction(app, auth_client, todo):
    """A GET's statements run in autocommit mode (no BEGIN or ROLLBACK round trips); a
    write's in one transaction; and the pool gives the next request its default back."""
    modes = []

    def record(conn, cursor, statement, parameters, context, executemany):
        modes.append((request.method, conn.connection.driver_connection.autocommit))

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        assert auth_client.get(f"/api/v1/todos/{todo['id']}").status_code == 200
        assert (
            auth_client.patch(f"/api/v1/todos/{todo['id']}", json={"done": True}).status_code == 200
        )
        assert auth_client.get("/api/v1/todos/").status_code == 200
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    assert {mode for method, mode in modes if method == "GET"} == {True}
    assert {mode for method, mode in modes if method == "PATCH"} == {False}
