import hashlib
from datetime import timedelta

import pytest
from sqlalchemy import select

from models import AccessToken, ApiKey, User, db, utcnow

REGISTER = "/api/v1/auth/register"
LOGIN = "/api/v1/auth/login"
LOGOUT = "/api/v1/auth/logout"
ME = "/api/v1/auth/me"
KEYS = "/api/v1/auth/keys/"


def register(client, email="ada@example.com", password="password-123"):
    return client.post(REGISTER, json={"email": email, "password": password})


def login(client, email, password):
    return client.post(LOGIN, json={"email": email, "password": password})


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def test_register(client):
    response = register(client, "Ada.Lovelace@Example.COM")
    assert response.status_code == 201
    body = response.get_json()
    assert set(body) == {"id", "email", "created_at"}
    assert body["email"] == "ada.lovelace@example.com"
    assert response.headers["Location"].endswith("/api/v1/auth/me")


def test_register_stores_only_a_werkzeug_hash(client, app):
    register(client, password="password-123")
    user = db.session.scalars(select(User)).one()
    assert user.password_hash.startswith(app.config["PASSWORD_HASH_METHOD"].split(":")[0])
    assert "password-123" not in user.password_hash


def test_production_hashes_with_scrypt():
    user = User(email="x@example.com")
    user.set_password("password-123")
    assert user.password_hash.startswith("scrypt:")
    assert user.check_password("password-123") and not user.check_password("password-124")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "not-an-email", "password": "password-123"}, "email"),
        ({"email": "a@b", "password": "password-123"}, "email"),
        ({"email": "ada@lab.test", "password": "password-123"}, "email"),
        ({"email": "ada@LOCALHOST", "password": "password-123"}, "email"),
        ({"email": "ada@example.com", "password": "short"}, "password"),
        ({"email": "ada@example.com"}, "password"),
        ({"password": "password-123"}, "email"),
        ({"email": 42, "password": "password-123"}, "email"),
    ],
)
def test_register_rejects_bad_input(client, body, field):
    response = client.post(REGISTER, json=body)
    assert response.status_code == 400
    assert field in response.get_json()["errors"]
    assert db.session.scalars(select(User)).first() is None


def test_register_rejects_a_taken_email_case_insensitively(client):
    assert register(client, "ada@example.com").status_code == 201
    response = register(client, "ADA@Example.com")
    assert response.status_code == 409
    assert response.get_json()["message"]
    assert len(db.session.scalars(select(User)).all()) == 1


def test_login_with_json(client, alice):
    response = login(client, alice.email, alice.password)
    assert response.status_code == 200
    body = response.get_json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 24 * 3600
    assert client.get(ME, headers=bearer(body["access_token"])).get_json()["email"] == alice.email


def test_login_with_http_basic(client, alice):
    response = client.post(LOGIN, auth=(alice.email, alice.password))
    assert response.status_code == 200
    assert client.get(ME, headers=bearer(response.get_json()["access_token"])).status_code == 200


def test_login_checks_a_body_sent_beside_basic_credentials(client, alice):
    basic = (alice.email, alice.password)
    assert client.post(LOGIN, auth=basic, json=[None, None]).status_code == 400
    assert client.post(LOGIN, auth=basic, json={"email": alice.email}).status_code == 400
    empty = {"email": "", "password": alice.password}
    assert client.post(LOGIN, auth=basic, json=empty).status_code == 400
    # A valid body does not replace them: the Basic credentials are the ones checked.
    wrong = {"email": alice.email, "password": "not-the-password"}
    assert client.post(LOGIN, auth=basic, json=wrong).status_code == 200


def test_login_email_is_case_insensitive(client, alice):
    assert login(client, alice.email.upper(), alice.password).status_code == 200


def test_wrong_email_and_wrong_password_look_the_same(client, alice):
    wrong_password = login(client, alice.email, "wrong-password")
    wrong_email = login(client, "nobody@example.com", alice.password)
    assert wrong_password.status_code == wrong_email.status_code == 401
    assert wrong_password.get_json() == wrong_email.get_json()
    assert wrong_password.headers["WWW-Authenticate"] == wrong_email.headers["WWW-Authenticate"]
    assert client.post(LOGIN, auth=(alice.email, "nope-nope")).status_code == 401


@pytest.mark.parametrize("body", [{}, {"email": "a@example.com"}, {"password": "x" * 9}, []])
def test_login_needs_both_fields(client, body):
    response = client.post(LOGIN, json=body)
    assert response.status_code == 400
    assert response.get_json()["message"]


def test_login_without_any_credentials(client):
    assert client.post(LOGIN).status_code == 400


def test_tokens_are_stored_as_digests(client, alice):
    token = login(client, alice.email, alice.password).get_json()["access_token"]
    stored = db.session.scalars(select(AccessToken)).one()
    assert stored.digest == hashlib.sha256(token.encode()).hexdigest()
    assert token not in stored.digest


def test_logout_revokes_the_token_at_once(client, alice):
    token = login(client, alice.email, alice.password).get_json()["access_token"]
    other = login(client, alice.email, alice.password).get_json()["access_token"]
    response = client.post(LOGOUT, headers=bearer(token))
    assert response.status_code == 204
    assert response.data == b""
    assert client.get(ME, headers=bearer(token)).status_code == 401
    assert client.get(ME, headers=bearer(other)).status_code == 200


def test_logout_with_an_api_key_is_refused(auth_client):
    response = auth_client.post(LOGOUT)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert "DELETE /auth/keys/{id}" in response.get_json()["message"]


def test_expired_tokens_are_refused(client, alice):
    token = login(client, alice.email, alice.password).get_json()["access_token"]
    stored = db.session.scalars(select(AccessToken)).one()
    stored.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    response = client.get(ME, headers=bearer(token))
    assert response.status_code == 401
    assert "expired" in response.get_json()["message"]


@pytest.mark.parametrize("config_overrides", [{"TOKEN_TTL": 60}])
def test_token_ttl_is_configurable(client, alice, config_overrides):
    assert login(client, alice.email, alice.password).get_json()["expires_in"] == 60


def test_login_purges_the_users_expired_tokens(client, alice):
    login(client, alice.email, alice.password)
    stored = db.session.scalars(select(AccessToken)).one()
    stored.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    login(client, alice.email, alice.password)
    assert len(db.session.scalars(select(AccessToken)).all()) == 1


def test_me(auth_client, alice):
    response = auth_client.get(ME)
    assert response.status_code == 200
    assert response.get_json() == {
        "id": alice.user.id,
        "email": alice.email,
        "created_at": response.get_json()["created_at"],
    }


def test_create_key_shows_the_secret_once(auth_client):
    response = auth_client.post(KEYS, json={"name": "laptop"})
    assert response.status_code == 201
    created = response.get_json()
    assert set(created) == {
        "id", "name", "prefix", "key", "created_at", "scopes", "expires_at", "last_used_at",
    }  # fmt: skip
    assert created["scopes"] == ["read", "write"] and created["expires_at"] is None
    assert created["key"].startswith(created["prefix"])
    assert response.headers["Location"].endswith(f"/api/v1/auth/keys/{created['id']}")
    assert auth_client.get(ME, headers={"X-API-KEY": created["key"]}).status_code == 200
    listed = auth_client.get(KEYS).get_json()
    assert [k["name"] for k in listed] == ["tests", "laptop"]
    assert all("key" not in k for k in listed)
    one = auth_client.get(f"/api/v1/auth/keys/{created['id']}").get_json()
    assert "key" not in one and one["prefix"] == created["prefix"]
    stored = db.session.get(ApiKey, created["id"])
    assert stored.digest == hashlib.sha256(created["key"].encode()).hexdigest()


@pytest.mark.parametrize("body", [{}, {"name": ""}, {"name": "x" * 101}, {"name": 5}])
def test_create_key_validates_the_name(auth_client, body):
    response = auth_client.post(KEYS, json=body)
    assert response.status_code == 400
    assert "name" in response.get_json()["errors"]


def test_delete_key_revokes_it_at_once(client, alice):
    with client.login(alice):
        created = client.post(KEYS, json={"name": "temp"}).get_json()
        assert client.delete(f"/api/v1/auth/keys/{created['id']}").status_code == 204
    assert client.get(ME, headers={"X-API-KEY": created["key"]}).status_code == 401


def test_keys_of_other_users_do_not_exist(client, alice, bob):
    with client.login(alice):
        created = client.post(KEYS, json={"name": "mine"}).get_json()
    with client.login(bob):
        assert client.get(f"/api/v1/auth/keys/{created['id']}").status_code == 404
        assert client.delete(f"/api/v1/auth/keys/{created['id']}").status_code == 404
        assert [k["name"] for k in client.get(KEYS).get_json()] == ["tests"]
    assert db.session.get(ApiKey, created["id"]) is not None
