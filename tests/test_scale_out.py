"""Two server processes sharing one PostgreSQL database behave as one API.

Each is `manage.py serve` (gunicorn) on its own loopback port, as two machines behind a
load balancer would be. Nothing one process knows may be missing from the other.
"""

import uuid

import pytest

from tests.live import answers, call, manage, server, server_database

POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
RATE_LIMIT = 30


pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not answers(5432), reason="needs PostgreSQL on 127.0.0.1:5432"),
]


@pytest.fixture(scope="module")
def shared_database(tmp_path_factory):
    """A fresh schema in the PostgreSQL test database, migrated like a deploy would."""
    with server_database({"url": POSTGRES_URL}, tmp_path_factory.mktemp("db")) as url:
        env = {"DATABASE_URL": url, "APP_ENV": "production", "SECRET_KEY": "shared-secret"}
        if answers(6379):
            env["RATELIMIT_STORAGE_URI"] = "redis://127.0.0.1:6379/0"
            env["RATELIMIT_KEY_PREFIX"] = f"scale-{uuid.uuid4().hex[:12]}"
            env["RATELIMIT_DEFAULT"] = f"{RATE_LIMIT} per minute"
        manage("db", "upgrade", env=env)
        yield env


@pytest.fixture(scope="module")
def servers(shared_database, tmp_path_factory):
    logs = tmp_path_factory.mktemp("servers")
    command = ("serve", "--workers", "2", "--threads", "2")
    with (
        server(*command, env=shared_database, log=logs / "one.log") as one,
        server(*command, env=shared_database, log=logs / "two.log") as two,
    ):
        yield one + "/api/v1", two + "/api/v1"


@pytest.fixture(scope="module")
def account(servers):
    one, _ = servers
    email = f"{uuid.uuid4().hex[:8]}@example.com"
    status, _, _ = call(
        "POST", one + "/auth/register", {"email": email, "password": "password-123"}
    )
    assert status == 201
    _, _, token = call("POST", one + "/auth/login", {"email": email, "password": "password-123"})
    bearer = {"Authorization": f"Bearer {token['access_token']}"}
    _, _, key = call("POST", one + "/auth/keys/", {"name": "shared"}, bearer)
    return {"email": email, "key": key}


def test_a_todo_written_through_one_is_read_through_the_other(servers, account):
    one, two = servers
    headers = {"X-API-KEY": account["key"]["key"]}
    status, head, created = call("POST", one + "/todos/", {"title": "shared"}, headers)
    assert status == 201
    status, _, read = call("GET", f"{two}/todos/{created['id']}", headers=headers)
    assert status == 200 and read["title"] == "shared"


def test_a_key_revoked_through_one_is_refused_by_the_other_at_once(servers, account):
    one, two = servers
    headers = {"X-API-KEY": account["key"]["key"]}
    _, _, extra = call("POST", one + "/auth/keys/", {"name": "temporary"}, headers)
    temporary = {"X-API-KEY": extra["key"]}
    assert call("GET", two + "/auth/me", headers=temporary)[0] == 200
    assert call("DELETE", f"{one}/auth/keys/{extra['id']}", headers=headers)[0] == 204
    assert call("GET", two + "/auth/me", headers=temporary)[0] == 401


def test_a_token_logged_out_through_one_is_refused_by_the_other_at_once(servers, account):
    one, two = servers
    credentials = {"email": account["email"], "password": "password-123"}
    _, _, token = call("POST", two + "/auth/login", credentials)
    bearer = {"Authorization": f"Bearer {token['access_token']}"}
    assert call("GET", one + "/auth/me", headers=bearer)[0] == 200
    assert call("POST", two + "/auth/logout", headers=bearer)[0] == 204
    assert call("GET", one + "/auth/me", headers=bearer)[0] == 401


def test_an_idempotent_retry_sent_to_the_other_replays_the_first_response(servers, account):
    one, two = servers
    headers = {"X-API-KEY": account["key"]["key"], "Idempotency-Key": uuid.uuid4().hex}
    first = call("POST", one + "/todos/", {"title": "exactly once"}, headers)
    retry = call("POST", two + "/todos/", {"title": "exactly once"}, headers)
    assert first[0] == retry[0] == 201
    assert retry[2] == first[2] and retry[1]["Location"] == first[1]["Location"]
    assert retry[1]["Idempotent-Replayed"] == "true"
    listed = call(
        "GET", two + "/todos/?q=exactly%20once", headers={"X-API-KEY": headers["X-API-KEY"]}
    )
    assert len(listed[2]) == 1


@pytest.mark.skipif(not answers(6379), reason="needs Redis on 127.0.0.1:6379 to share counts")
def test_a_rate_limit_counts_an_accounts_requests_across_both(servers):
    """One count per account, whichever process and whichever of its credentials."""
    one, two = servers
    email = f"{uuid.uuid4().hex[:8]}@example.com"
    credentials = {"email": email, "password": "password-123"}
    assert call("POST", one + "/auth/register", credentials)[0] == 201
    _, _, token = call("POST", two + "/auth/login", credentials)
    bearer = {"Authorization": f"Bearer {token['access_token']}"}
    _, _, key = call("POST", one + "/auth/keys/", {"name": "counted"}, bearer)  # the first
    credentials = [bearer, {"X-API-KEY": key["key"]}]
    statuses = [
        call("GET", (one, two)[n % 2] + "/auth/me", headers=credentials[n // 2 % 2])[0]
        for n in range(RATE_LIMIT + 1)
    ]
    assert statuses == [200] * (RATE_LIMIT - 1) + [429] * 2
