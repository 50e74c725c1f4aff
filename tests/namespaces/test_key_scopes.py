"""API key scopes, expiry and last use."""

from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from api.policies.authentication import READ_ONLY
from models import ApiKey, Todo, db, utcnow
from tests.security.routes import BODIES, PROTECTED, ids, url

KEYS = "/api/v1/auth/keys/"
ME = "/api/v1/auth/me"
# The writes an API key may make with the write scope (logout takes no key at all).
WRITES = [
    (m, p) for m, p in PROTECTED if m in ("post", "put", "patch", "delete") and p != "/auth/logout"
]


def new_key(client, account, **body) -> dict:
    with client.login(account):
        response = client.post(KEYS, json={"name": "script", **body})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def as_key(created: dict) -> dict:
    return {"X-API-KEY": created["key"]}


def rows() -> tuple:
    db.session.expire_all()
    return tuple(
        db.session.scalar(select(func.count()).select_from(model)) for model in (Todo, ApiKey)
    )


class TestScopes:
    def test_a_read_only_key_reads(self, client, alice):
        reader = as_key(new_key(client, alice, scopes=["read"]))
        for path in ("/api/v1/todos/", "/api/v1/bucketlists/", ME, KEYS):
            assert client.get(path, headers=reader).status_code == 200, path

    @pytest.mark.parametrize(("method", "path"), WRITES, ids=ids(WRITES))
    def test_a_read_only_key_is_refused_every_write_before_its_body(
        self, client, alice, method, path
    ):
        reader = as_key(new_key(client, alice, scopes=["read"]))
        before = rows()
        sent = [
            {"json": BODIES.get(path)},
            {"data": "{not json", "content_type": "application/json"},
            {"data": "plain", "content_type": "text/plain"},
            {"data": "x" * (2 * 1024 * 1024), "content_type": "application/json"},
        ]
        for kwargs in sent:
            response = getattr(client, method)(url(path), headers=reader, **kwargs)
            assert response.status_code == 403, (kwargs.keys(), response.get_json())
            assert response.get_json()["message"] == READ_ONLY
        assert rows() == before

    def test_a_read_and_write_key_writes(self, client, alice):
        writer = as_key(new_key(client, alice, scopes=["write", "read"]))
        created = client.post("/api/v1/todos/", json={"title": "t"}, headers=writer)
        assert created.status_code == 201

    def test_a_key_that_writes_also_reads(self, client, alice):
        created = new_key(client, alice, scopes=["write"])
        assert created["scopes"] == ["read", "write"]
        assert client.get(ME, headers=as_key(created)).status_code == 200

    def test_keys_show_their_scopes_expiry_and_last_use(self, client, alice):
        created = new_key(client, alice, scopes=["read"], expires_in=3600)
        assert created["scopes"] == ["read"]
        expires = created["expires_at"]
        assert expires > created["created_at"]
        with client.login(alice):
            shown = client.get(f"{KEYS}{created['id']}").get_json()
            masked = client.get(f"{KEYS}{created['id']}", headers={"X-Fields": "{scopes}"})
        assert shown["scopes"] == ["read"] and shown["expires_at"] == expires
        assert masked.get_json() == {"scopes": ["read"]}


class TestExpiry:
    def test_an_expired_key_is_refused_at_once(self, client, alice):
        created = new_key(client, alice, expires_in=3600)
        assert client.get(ME, headers=as_key(created)).status_code == 200
        db.session.execute(
            update(ApiKey)
            .where(ApiKey.id == created["id"])
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
        db.session.commit()
        refused = client.get(ME, headers=as_key(created))
        assert refused.status_code == 401
        assert "expired" in refused.get_json()["message"]

    def test_a_key_made_by_an_expiring_key_expires_with_it_at_the_latest(self, client, alice):
        maker = new_key(client, alice, expires_in=3600)
        made = [
            client.post(KEYS, json={"name": "made", **body}, headers=as_key(maker)).get_json()
            for body in ({}, {"expires_in": 7200}, {"expires_in": 60})
        ]
        assert [key["expires_at"] for key in made[:2]] == [maker["expires_at"]] * 2
        assert made[2]["created_at"] < made[2]["expires_at"] < maker["expires_at"]
        # A key that never expires, or a bearer token, makes keys as asked.
        lasting = new_key(client, alice)
        assert new_key(client, alice, expires_in=7200)["expires_at"] > maker["expires_at"]
        made = client.post(KEYS, json={"name": "made"}, headers=as_key(lasting)).get_json()
        assert made["expires_at"] is None


class TestLastUse:
    def test_recorded_at_most_once_a_minute(self, client, alice, statements):
        created = new_key(client, alice)
        key = as_key(created)

        def last_used():
            db.session.expire_all()
            return db.session.get(ApiKey, created["id"]).last_used_at

        assert last_used() is None
        with statements.capture():
            client.get(ME, headers=key)
        assert [s for s in statements if s.startswith("UPDATE api_keys")]
        first = last_used()
        assert first is not None
        with statements.capture():
            for _ in range(5):
                assert client.get(ME, headers=key).status_code == 200
        # Within the minute: no request writes.
        assert not [s for s in statements if s.startswith("UPDATE")]
        assert last_used() == first
        older = first - timedelta(minutes=2)
        db.session.execute(
            update(ApiKey).where(ApiKey.id == created["id"]).values(last_used_at=older)
        )
        db.session.commit()
        client.get(ME, headers=key)
        assert last_used() > first
        with client.login(alice):
            shown = client.get(f"{KEYS}{created['id']}").get_json()
        assert shown["last_used_at"] is not None


class TestBadInput:
    @pytest.mark.parametrize(
        "body",
        [
            {"scopes": ["admin"]},
            {"scopes": []},
            {"scopes": "read"},
            {"scopes": ["read", "read"]},
            {"scopes": [None]},
            {"expires_in": 0},
            {"expires_in": -60},
            {"expires_in": 10**9},
            {"expires_in": 10**40},
            {"expires_in": "soon"},
            {"expires_in": 1.5},
        ],
    )
    def test_refused_and_nothing_made(self, client, alice, body):
        before = rows()
        with client.login(alice):
            response = client.post(KEYS, json={"name": "script", **body})
        assert response.status_code == 400, response.get_json()
        assert response.get_json()["errors"]
        assert rows() == before

    def test_logout_refuses_every_key_alike(self, client, alice):
        answers = [
            client.post("/api/v1/auth/logout", headers=as_key(new_key(client, alice, scopes=s)))
            for s in (["read"], ["read", "write"])
        ]
        assert [answer.status_code for answer in answers] == [401, 401]
        assert answers[0].get_json() == answers[1].get_json()
        assert "DELETE /auth/keys/" in answers[0].get_json()["message"]

    def test_a_read_only_key_cannot_make_a_key(self, client, alice):
        reader = as_key(new_key(client, alice, scopes=["read"]))
        before = rows()
        response = client.post(KEYS, json={"name": "more"}, headers=reader)
        assert response.status_code == 403
        assert rows() == before


def test_the_spec_says_which_scope_each_operation_needs(client):
    spec = client.get("/api/v1/swagger.json").get_json()
    checked = 0
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if method == "parameters":
                continue
            names = {name for need in operation.get("security") or [] for name in need}
            if "apikey" not in names:
                assert "x-required-scope" not in operation, (method, path)
                continue
            checked += 1
            writes = method in ("post", "put", "patch", "delete")
            assert operation["x-required-scope"] == ("write" if writes else "read")
            if writes:
                assert "may only read" in operation["responses"]["403"]["description"]
    assert checked == len(PROTECTED) - 1  # logout takes only a bearer token
