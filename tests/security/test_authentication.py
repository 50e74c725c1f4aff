"""Every protected operation refuses requests without a valid credential, the same way."""

import base64
from datetime import timedelta

import pytest
from sqlalchemy import select

from models import AccessToken, ApiKey, db, utcnow
from tests.security.routes import BODIES, PROTECTED, ids, template, url


def spec_operations(client):
    spec = client.get("/api/v1/swagger.json").get_json()
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method == "parameters":
                continue
            schemes = {name for need in operation.get("security") or [] for name in need}
            if schemes & {"apikey", "bearer"}:
                yield method, template(path)


def test_the_list_covers_every_protected_operation(client):
    assert sorted(spec_operations(client)) == sorted((m, template(p)) for m, p in PROTECTED)


def basic(user: str, password: str) -> dict:
    encoded = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {encoded}"}


BAD_HEADERS = {
    "none": {},
    "unknown key": {"X-API-KEY": "tdk_not-a-real-key"},
    "empty key": {"X-API-KEY": ""},
    "blank key": {"X-API-KEY": "   "},
    "huge key": {"X-API-KEY": "tdk_" + "k" * 8000},
    "unknown token": {"Authorization": "Bearer not-a-real-token"},
    "empty bearer": {"Authorization": "Bearer "},
    "bearer without a token": {"Authorization": "Bearer"},
    "huge token": {"Authorization": "Bearer " + "t" * 8000},
    "unknown scheme": {"Authorization": "Token not-a-real-token"},
    "malformed": {"Authorization": "garbage"},
    "basic": basic("alice@example.com", "password-123"),
    "malformed basic": {"Authorization": "Basic !!!not-base64"},
}


@pytest.mark.parametrize(("method", "path"), PROTECTED, ids=ids(PROTECTED))
def test_requests_without_valid_credentials_get_401(client, alice, method, path):
    for name, headers in BAD_HEADERS.items():
        response = getattr(client, method)(url(path), headers=headers, json=BODIES.get(path))
        assert response.status_code == 401, name
        assert response.is_json and response.get_json()["message"]
        assert response.headers["WWW-Authenticate"].startswith("Bearer"), name


@pytest.fixture
def forged(client, alice) -> dict:
    """Alice's real secrets, sent in the wrong place or in a form that is not the secret."""
    token = client.post(
        "/api/v1/auth/login", json={"email": alice.email, "password": alice.password}
    ).get_json()["access_token"]
    key = db.session.scalars(select(ApiKey)).one()
    stored = db.session.scalars(select(AccessToken)).one()
    return {
        "key as a bearer token": {"Authorization": f"Bearer {alice.key}"},
        "token as an API key": {"X-API-KEY": token},
        "the key's stored digest": {"X-API-KEY": key.digest},
        "the token's stored digest": {"Authorization": f"Bearer {stored.digest}"},
        "the key's shown prefix": {"X-API-KEY": key.prefix},
        "the key with a character more": {"X-API-KEY": alice.key + "x"},
        "the key with a character less": {"X-API-KEY": alice.key[:-1]},
        "the key in upper case": {"X-API-KEY": alice.key.upper()},
        "the token with a character less": {"Authorization": f"Bearer {token[:-1]}"},
    }


@pytest.mark.parametrize(("method", "path"), PROTECTED, ids=ids(PROTECTED))
def test_secrets_in_the_wrong_form_or_place_get_401(client, forged, method, path):
    for name, headers in forged.items():
        response = getattr(client, method)(url(path), headers=headers, json=BODIES.get(path))
        assert response.status_code == 401, name


@pytest.mark.parametrize(("method", "path"), PROTECTED, ids=ids(PROTECTED))
def test_expired_revoked_and_logged_out_credentials_get_401(client, alice, method, path):
    def login() -> dict:
        token = client.post(
            "/api/v1/auth/login", json={"email": alice.email, "password": alice.password}
        ).get_json()["access_token"]
        return {"Authorization": f"Bearer {token}"}

    expired = login()
    for stored in db.session.scalars(select(AccessToken)):
        stored.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert getattr(client, method)(url(path), headers=expired).status_code == 401

    logged_out = login()
    assert client.post("/api/v1/auth/logout", headers=logged_out).status_code == 204
    assert getattr(client, method)(url(path), headers=logged_out).status_code == 401

    with client.login(alice):
        key_id = client.get("/api/v1/auth/keys/").get_json()[0]["id"]
        assert client.delete(f"/api/v1/auth/keys/{key_id}").status_code == 204
    revoked = getattr(client, method)(url(path), headers=alice.headers)
    assert revoked.status_code == 401


def test_401_comes_before_body_validation(client):
    response = client.post("/api/v1/todos/", json={"title": 5})
    assert response.status_code == 401
