"""Fields a client may not set (ids, owners, timestamps, URLs, counts, nested rows) are
ignored by every write: they change nothing in the database or in the answer."""

import hashlib

import pytest
from sqlalchemy import select

from models import ApiKey, Bucket, Item, Todo, User, db
from tests.security.routes import BODIES, ids, url

LONG_AGO = "2000-01-01T00:00:00+00:00"
WRITES = [
    ("post", "/todos/", Todo),
    ("put", "/todos/{todo}", Todo),
    ("patch", "/todos/{todo}", Todo),
    ("post", "/bucketlists/", Bucket),
    ("put", "/bucketlists/{bucket}", Bucket),
    ("patch", "/bucketlists/{bucket}", Bucket),
    ("post", "/bucketlists/{bucket}/items/", Item),
    ("put", "/bucketlists/{bucket}/items/{item}", Item),
    ("patch", "/bucketlists/{bucket}/items/{item}", Item),
]


def forged_fields(bob, bobs) -> dict:
    return {
        "id": 777777,
        "user_id": bob.user.id,
        "owner": bob.user.id,
        "owner_id": bob.user.id,
        "bucket_id": bobs["bucket"],
        "created_at": LONG_AGO,
        "updated_at": LONG_AGO,
        "uri": "http://evil.example/todos/1",
        "item_count": 42,
        "items": [{"id": bobs["item"], "name": "planted"}],
    }


def rows():
    db.session.expire_all()
    return {
        model.__name__: sorted(
            (row.id, row.user_id, getattr(row, "bucket_id", None))
            for row in db.session.scalars(select(model))
        )
        for model in (Todo, Bucket, Item)
    }


@pytest.mark.parametrize(("method", "path", "model"), WRITES, ids=ids(WRITES))
def test_writes_ignore_fields_a_client_may_not_set(
    client, alice, alices, bob, bobs, method, path, model
):
    before = rows()
    body = {**BODIES[path], **forged_fields(bob, bobs)}
    with client.login(alice):
        response = getattr(client, method)(url(path, alices), json=body)
    assert response.status_code in (200, 201), response.get_json()
    answer = response.get_json()

    after = rows()
    if method == "post":
        expected_id, resource = answer["id"], path + "{new}"
    else:
        expected_id, resource = alices[path.rsplit("{", 1)[1].rstrip("}")], path
    assert answer["id"] == expected_id != 777777
    assert answer["created_at"] > "2020" and answer["updated_at"] > "2020"
    assert answer["uri"] == "http://localhost" + url(resource, {**alices, "new": expected_id})
    if model is Bucket:
        assert answer["item_count"] == (1 if method != "post" else 0)
        assert "planted" not in str(answer["items"])

    row = db.session.get(model, expected_id)
    assert row.user_id == alice.user.id
    if model is Item:
        assert row.bucket_id == alices["bucket"]
    if method == "post":
        after[model.__name__].remove((row.id, row.user_id, getattr(row, "bucket_id", None)))
    # Nothing else was created, moved to another owner or bucket, or removed.
    assert after == before
    assert not db.session.scalars(select(Item).where(Item.name == "planted")).first()


def test_register_ignores_fields_a_client_may_not_set(client):
    body = {
        **BODIES["/auth/register"],
        "id": 777777,
        "created_at": LONG_AGO,
        "password_hash": "plain",
        "is_admin": True,
    }
    response = client.post("/api/v1/auth/register", json=body)
    assert response.status_code == 201
    answer = response.get_json()
    assert answer["id"] != 777777 and answer["created_at"] > "2020"
    assert set(answer) == {"id", "email", "created_at"}
    stored = db.session.get(User, answer["id"])
    assert stored.password_hash != "plain" and stored.check_password(body["password"])
    login = client.post("/api/v1/auth/login", auth=(body["email"], body["password"]))
    assert login.status_code == 200


def test_new_keys_ignore_fields_a_client_may_not_set(client, alice, bob):
    chosen = "tdk_chosen-by-the-client"
    body = {
        "name": "laptop",
        "id": 777777,
        "key": chosen,
        "prefix": chosen[:12],
        "digest": hashlib.sha256(chosen.encode()).hexdigest(),
        "user_id": bob.user.id,
        "created_at": LONG_AGO,
    }
    with client.login(alice):
        answer = client.post("/api/v1/auth/keys/", json=body).get_json()
    assert answer["id"] != 777777 and answer["created_at"] > "2020"
    assert answer["key"] != chosen and answer["prefix"] == answer["key"][:12]
    stored = db.session.get(ApiKey, answer["id"])
    assert stored.user_id == alice.user.id
    assert stored.digest == hashlib.sha256(answer["key"].encode()).hexdigest()
    assert client.get("/api/v1/auth/me", headers={"X-API-KEY": chosen}).status_code == 401
    assert client.get("/api/v1/auth/me", headers={"X-API-KEY": answer["key"]}).status_code == 200
