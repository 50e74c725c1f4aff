"""Idempotency-Key on POST: a retry replays the first response and creates nothing new."""

import json
from datetime import timedelta
from functools import partial

import pytest
from sqlalchemy import func, select

from api.idempotency import request_fingerprint
from models import ApiKey, IdempotencyKey, Todo, db, utcnow
from tests.clients import together

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
