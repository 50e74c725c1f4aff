"""Idempotency-Key on POST: a retry replays the first response and creates nothing new."""

import http.client
import json
import os
import subprocess
import sys
from contextlib import contextmanager
from datetime import timedelta
from functools import partial

import pytest
from sqlalchemy import create_engine, func, select, update

from api.policies.idempotency import ABANDONED_AFTER, request_fingerprint
from models import ApiKey, IdempotencyKey, Todo, db, utcnow
from tests.clients import together
from tests.live import ROOT, call, free_port, register, server, server_database, wait_until_healthy

TODOS = "/api/v1/todos/"
KEYS = "/api/v1/auth/keys/"
MILK = {"title": "Buy milk", "description": "Semi-skimmed"}


def key(value: str = "retry-me-1") -> dict:
    return {"Idempotency-Key": value}


def count(entity) -> int:
    return db.session.scalar(select(func.count()).select_from(entity))


def test_a_retry_replays_the_first_response(auth_client):
    first = auth_client.post(TODOS, json=MILK, headers=key())
    assert first.status_code == 201
    assert "Idempotent-Replayed" not in first.headers
    retry = auth_client.post(TODOS, json=MILK, headers=key())
    assert retry.status_code == 201
    assert retry.get_json() == first.get_json()
    assert retry.headers["Location"] == first.headers["Location"]
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert count(Todo) == 1


def test_the_same_json_written_differently_is_the_same_request(auth_client):
    auth_client.post(TODOS, json=MILK, headers=key())
    reordered = json.dumps(dict(reversed(list(MILK.items()))), indent=2)
    retry = auth_client.post(TODOS, data=reordered, content_type="application/json", headers=key())
    assert retry.status_code == 201 and retry.headers["Idempotent-Replayed"] == "true"
    assert count(Todo) == 1


def test_the_same_key_with_another_body_is_422(auth_client):
    auth_client.post(TODOS, json=MILK, headers=key())
    response = auth_client.post(TODOS, json={"title": "Buy bread"}, headers=key())
    assert response.status_code == 422
    assert response.is_json and "Idempotency-Key" in response.get_json()["message"]
    assert count(Todo) == 1


def test_the_same_key_on_another_operation_is_422(auth_client):
    auth_client.post(TODOS, json=MILK, headers=key())
    assert auth_client.post(KEYS, json={"name": "laptop"}, headers=key()).status_code == 422


def test_keys_belong_to_one_account(client, alice, bob):
    with client.login(alice):
        mine = client.post(TODOS, json=MILK, headers=key())
    with client.login(bob):
        theirs = client.post(TODOS, json=MILK, headers=key())
    assert theirs.status_code == 201 and "Idempotent-Replayed" not in theirs.headers
    assert theirs.get_json()["id"] != mine.get_json()["id"]


def test_without_a_key_every_post_creates(auth_client):
    auth_client.post(TODOS, json=MILK)
    auth_client.post(TODOS, json=MILK)
    assert count(Todo) == 2


def test_a_failed_request_does_not_use_up_its_key(auth_client):
    assert auth_client.post(TODOS, json={"title": ""}, headers=key()).status_code == 400
    assert count(IdempotencyKey) == 0
    assert auth_client.post(TODOS, json=MILK, headers=key()).status_code == 201


@pytest.mark.parametrize("value", ["", "has space", "x" * 256, "naïve"])
def test_an_unusable_key_is_400(auth_client, value):
    response = auth_client.post(TODOS, json=MILK, headers=key(value))
    assert response.status_code == 400
    assert count(Todo) == 0


def test_a_response_showing_a_secret_is_never_stored(auth_client, alice):
    first = auth_client.post(KEYS, json={"name": "laptop"}, headers=key())
    assert first.status_code == 201
    secret = first.get_json()["key"]
    retry = auth_client.post(KEYS, json={"name": "laptop"}, headers=key())
    assert retry.status_code == 409
    assert retry.headers["Location"] == first.headers["Location"]
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert "key" not in retry.get_json()
    assert count(ApiKey) == 2  # the fixture's and this one
    stored = db.session.scalars(select(IdempotencyKey)).one()
    assert stored.body is None and secret not in repr(stored.__dict__)


def claim_in_progress(app, account, body, created_at) -> IdempotencyKey:
    """A claim as a request that is still running (or died) leaves it."""
    with app.test_request_context(TODOS, method="POST", json=body):
        fingerprint = request_fingerprint()
    record = IdempotencyKey(
        user_id=account.user.id,
        key="retry-me-1",
        fingerprint=fingerprint,
        created_at=created_at,
        expires_at=created_at + timedelta(days=1),
    )
    db.session.add(record)
    db.session.commit()
    return record


def test_a_retry_while_the_first_request_runs_is_409(app, auth_client, alice):
    claim_in_progress(app, alice, MILK, utcnow())
    response = auth_client.post(TODOS, json=MILK, headers=key())
    assert response.status_code == 409
    assert response.headers["Retry-After"] == "1"
    assert count(Todo) == 0


def test_a_claim_abandoned_by_a_dead_request_is_taken_over(app, auth_client, alice):
    claim_in_progress(app, alice, MILK, utcnow() - timedelta(minutes=5))
    response = auth_client.post(TODOS, json=MILK, headers=key())
    assert response.status_code == 201
    assert auth_client.post(TODOS, json=MILK, headers=key()).headers["Idempotent-Replayed"]
    assert count(Todo) == 1


def test_expired_records_are_cleaned_up(auth_client, client, bob):
    with client.login(bob):
        client.post(TODOS, json=MILK, headers=key("bobs"))
    auth_client.post(TODOS, json=MILK, headers=key())
    for record in db.session.scalars(select(IdempotencyKey)):
        record.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    # Past its lifetime a key is new again, and every expired record goes.
    again = auth_client.post(TODOS, json=MILK, headers=key())
    assert again.status_code == 201 and "Idempotent-Replayed" not in again.headers
    assert count(Todo) == 3
    assert [r.key for r in db.session.scalars(select(IdempotencyKey))] == ["retry-me-1"]


@pytest.mark.parametrize("config_overrides", [{"IDEMPOTENCY_TTL": 60}])
def test_records_live_for_idempotency_ttl(auth_client, config_overrides):
    auth_client.post(TODOS, json=MILK, headers=key())
    record = db.session.scalars(select(IdempotencyKey)).one()
    assert record.expires_at - record.created_at == timedelta(seconds=60)


def test_concurrent_duplicates_create_one_row(http):
    """Six copies of one keyed POST, released at once: one todo, one response."""
    results = together([partial(http, "POST", "/todos/", MILK, key("race"))] * 6)
    statuses = {result.status for result in results}
    assert statuses <= {201, 409} and 201 in statuses, statuses
    created = [result for result in results if result.status == 201]
    assert all(result.body == created[0].body for result in created)
    for result in results:
        if result.status == 409:
            assert result.headers["Retry-After"] == "1"
    listed = http("GET", "/todos/")
    assert listed.headers["X-Total-Count"] == "1"
    assert http("POST", "/todos/", MILK, key("race")).body == created[0].body


def test_the_spec_documents_idempotency_keys(client):
    spec = client.get("/api/v1/swagger.json").get_json()
    posts = {path: item["post"] for path, item in spec["paths"].items() if "post" in item}
    assert posts
    for path, operation in posts.items():
        params = {p["name"]: p for p in operation.get("parameters", [])}
        if path in ("/auth/register", "/auth/login"):
            assert "Idempotency-Key" not in params
            continue
        assert params["Idempotency-Key"]["in"] == "header", path
        assert {"409", "422"} <= set(operation["responses"]), path


MASK = "{id,title}"


def masked(how: str, mask: str | None) -> dict:
    """The arguments of a keyed POST that sends `mask` as `X-Fields` or as `?fields=`."""
    if mask is None:
        return {"headers": key()}
    if how == "header":
        return {"headers": {**key(), "X-Fields": mask}}
    return {"headers": key(), "query_string": {"fields": mask}}


@pytest.mark.parametrize(("sent", "resent"), [("header", "query"), ("query", "header")])
def test_a_mask_is_one_request_as_a_header_or_a_query_argument(auth_client, sent, resent):
    first = auth_client.post(TODOS, json=MILK, **masked(sent, MASK))
    assert first.status_code == 201
    assert set(first.get_json()) == {"id", "title"}
    retry = auth_client.post(TODOS, json=MILK, **masked(resent, MASK))
    assert (retry.status_code, retry.get_json()) == (201, first.get_json())
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert retry.headers["Location"] == first.headers["Location"]
    assert count(Todo) == 1


OTHER_MASKS = {
    "X-Fields {id}": ("header", "{id}"),
    "?fields={id}": ("query", "{id}"),
    "no mask": ("", None),
}


@pytest.mark.parametrize("sent", ["header", "query"])
@pytest.mark.parametrize("other", OTHER_MASKS.values(), ids=OTHER_MASKS)
def test_the_same_key_with_another_mask_is_422(auth_client, sent, other):
    assert auth_client.post(TODOS, json=MILK, **masked(sent, MASK)).status_code == 201
    response = auth_client.post(TODOS, json=MILK, **masked(*other))
    assert response.status_code == 422
    assert "Idempotency-Key" in response.get_json()["message"]
    assert count(Todo) == 1


# `manage.py run`, except that the process dies (exit code 1) when a session is about to
# commit the stored response of an Idempotency-Key: after the handler created its row,
# before the response that a retry would replay is committed.
DIES_BEFORE_STORING = """
import os
import sys

from sqlalchemy import event, inspect
from sqlalchemy.orm import Session

from models import IdempotencyKey


def storing(row) -> bool:
    if not isinstance(row, IdempotencyKey):
        return False
    return any(status is not None for status in inspect(row).attrs.status.history.added)


@event.listens_for(Session, "before_commit")
def die(session):
    if any(storing(row) for row in session.dirty):
        os._exit(1)


import manage

manage.cli.main(sys.argv[1:], prog_name="manage.py")
"""


@contextmanager
def dying_server(env: dict, log):
    """`DIES_BEFORE_STORING` on a loopback port; yields its base URL and its process."""
    port = free_port()
    environment = {**os.environ, "APP_ENV": "development", **env}
    with open(log, "ab") as output:
        process = subprocess.Popen(
            [sys.executable, "-c", DIES_BEFORE_STORING, "run", "--port", str(port)],
            cwd=ROOT,
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        try:
            url = f"http://127.0.0.1:{port}"
            wait_until_healthy(url, process)
            yield url, process
        finally:
            if process.poll() is None:
                process.kill()
            process.wait(timeout=10)


@pytest.mark.slow
def test_a_server_killed_before_storing_the_response_created_nothing(database, tmp_path):
    """Killed between creating the todo and committing the response a retry would replay,
    a server leaves only its abandoned claim: the retry creates the one todo."""
    body = {"title": "Survive the kill", "description": "once"}
    with server_database(database, tmp_path) as url:
        env = {"DATABASE_URL": url}
        with dying_server(env, tmp_path / "dying.log") as (base, process):
            headers = {**register(base, "killed@example.com").headers, **key("kill")}
            with pytest.raises((OSError, http.client.HTTPException)):
                call("POST", base + TODOS, body, headers)
            assert process.wait(timeout=10) == 1

        engine = create_engine(url)
        todos, claims = Todo.__table__, IdempotencyKey.__table__
        titled = select(func.count()).select_from(todos).where(todos.c.title == body["title"])
        try:
            with engine.begin() as connection:
                left_by_kill = connection.scalar(titled)
                claim = connection.execute(select(claims)).one()
                assert (claim.key, claim.status) == ("kill", None)
                # Abandoned long ago, rather than waiting ABANDONED_AFTER for it.
                long_ago = utcnow() - ABANDONED_AFTER - timedelta(minutes=1)
                connection.execute(update(claims).values(created_at=long_ago))
            with server("run", env=env, log=tmp_path / "server.log") as base:
                status, head, created = call("POST", base + TODOS, body, headers)
                assert status == 201, created
                assert "Idempotent-Replayed" not in head
                replayed = call("POST", base + TODOS, body, headers)
                assert replayed[0] == 201 and replayed[1]["Idempotent-Replayed"] == "true"
                assert replayed[2] == created
            with engine.connect() as connection:
                after_retry = connection.scalar(titled)
        finally:
            engine.dispose()
    # The old order, the todo committed before its response, leaves (1, 2).
    assert (left_by_kill, after_retry) == (0, 1)
