"""Every protected operation refuses requests without a valid credential, the same way."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from models import AccessToken, db, utcnow

PROTECTED = [
    ("post", "/auth/logout"),
    ("get", "/auth/me"),
    ("get", "/auth/keys/"),
    ("post", "/auth/keys/"),
    ("get", "/auth/keys/1"),
    ("delete", "/auth/keys/1"),
    ("get", "/todos/"),
    ("post", "/todos/"),
    ("get", "/todos/1"),
    ("put", "/todos/1"),
    ("patch", "/todos/1"),
    ("delete", "/todos/1"),
    ("get", "/bucketlists/"),
    ("post", "/bucketlists/"),
    ("get", "/bucketlists/1"),
    ("put", "/bucketlists/1"),
    ("patch", "/bucketlists/1"),
    ("delete", "/bucketlists/1"),
    ("get", "/bucketlists/1/items/"),
    ("post", "/bucketlists/1/items/"),
    ("get", "/bucketlists/1/items/1"),
    ("put", "/bucketlists/1/items/1"),
    ("patch", "/bucketlists/1/items/1"),
    ("delete", "/bucketlists/1/items/1"),
]


def spec_operations(client):
    spec = client.get("/api/v1/swagger.json").get_json()
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method != "parameters" and {"apikey": []} in (operation.get("security") or []):
                yield method, path.replace("{id}", "1").replace("{item_id}", "1")


def test_the_list_covers_every_protected_operation(client):
    assert sorted(spec_operations(client)) == sorted(PROTECTED)


BAD_HEADERS = {
    "none": {},
    "unknown key": {"X-API-KEY": "tdk_not-a-real-key"},
    "empty key": {"X-API-KEY": ""},
    "unknown token": {"Authorization": "Bearer not-a-real-token"},
    "empty bearer": {"Authorization": "Bearer "},
    "other scheme": {"Authorization": "Basic YWxpY2VAZXhhbXBsZS5jb206cGFzc3dvcmQtMTIz"},
    "malformed": {"Authorization": "garbage"},
}


@pytest.mark.parametrize(("method", "path"), PROTECTED)
@pytest.mark.parametrize("headers", BAD_HEADERS.values(), ids=BAD_HEADERS.keys())
def test_requests_without_valid_credentials_get_401(client, alice, method, path, headers):
    response = getattr(client, method)("/api/v1" + path, headers=headers, json={"title": "x"})
    assert response.status_code == 401
    assert response.is_json and response.get_json()["message"]
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(("method", "path"), PROTECTED)
def test_revoked_and_expired_credentials_get_401(client, alice, method, path):
    token = client.post(
        "/api/v1/auth/login", json={"email": alice.email, "password": alice.password}
    ).get_json()["access_token"]
    stored = db.session.scalars(select(AccessToken)).one()
    stored.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    expired = getattr(client, method)(
        "/api/v1" + path, headers={"Authorization": f"Bearer {token}"}
    )
    assert expired.status_code == 401
    with client.login(alice):
        key_id = client.get("/api/v1/auth/keys/").get_json()[0]["id"]
        client.delete(f"/api/v1/auth/keys/{key_id}")
    revoked = getattr(client, method)("/api/v1" + path, headers=alice.headers)
    assert revoked.status_code == 401


def test_401_comes_before_body_validation(client):
    response = client.post("/api/v1/todos/", json={"title": 5})
    assert response.status_code == 401
