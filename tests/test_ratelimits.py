"""Rate limits: per credential on the API, per address on login and register; 429 JSON."""

import threading
import time

import pytest

from tests.clients import call, live_account
from tests.conftest import REDIS_URL

API = "/api/v1"


@pytest.fixture
def config_overrides():
    return {"RATELIMIT_DEFAULT": "3 per minute", "RATELIMIT_AUTH": "2 per minute"}


def from_address(address: str) -> dict:
    return {"environ_base": {"REMOTE_ADDR": address}}


def assert_rate_limited(response, limit: int) -> None:
    assert response.status_code == 429
    assert response.is_json and "limit" in response.get_json()["message"]
    assert int(response.headers["Retry-After"]) >= 1
    assert response.headers["X-RateLimit-Limit"] == str(limit)
    assert response.headers["X-RateLimit-Remaining"] == "0"
    assert response.headers["X-Request-ID"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_the_default_limit_counts_each_credential_across_routes(client, alice, bob):
    with client.login(alice):
        assert client.get(f"{API}/auth/me").status_code == 200
        assert client.get(f"{API}/todos/").status_code == 200
        assert client.post(f"{API}/todos/", json={"title": "x"}).status_code == 201
        assert_rate_limited(client.get(f"{API}/todos/"), 3)
    with client.login(bob):
        assert client.get(f"{API}/auth/me").status_code == 200


def test_limited_responses_carry_the_rate_limit_headers(auth_client):
    response = auth_client.get(f"{API}/auth/me")
    assert response.headers["X-RateLimit-Limit"] == "3"
    assert response.headers["X-RateLimit-Remaining"] == "2"
    assert int(response.headers["X-RateLimit-Reset"]) > 0
    assert "Retry-After" not in response.headers


def test_requests_without_a_credential_count_by_address(client):
    for _ in range(3):
        assert client.get(f"{API}/todos/", **from_address("10.0.0.1")).status_code == 401
    assert_rate_limited(client.get(f"{API}/todos/", **from_address("10.0.0.1")), 3)
    assert client.get(f"{API}/todos/", **from_address("10.0.0.2")).status_code == 401


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/auth/login", {"email": "alice@example.com", "password": "wrong-password"}),
        ("/auth/register", {"email": "new@example.com", "password": "password-123"}),
    ],
)
def test_password_endpoints_are_limited_per_address(client, alice, path, body):
    outcomes = [client.post(API + path, json=body, **from_address("10.0.0.7")) for _ in range(2)]
    assert all(response.status_code != 429 for response in outcomes)
    assert_rate_limited(client.post(API + path, json=body, **from_address("10.0.0.7")), 2)
    # Another address, and the same address on the rest of the API, are unaffected.
    assert client.post(API + path, json=body, **from_address("10.0.0.8")).status_code != 429
    me = client.get(f"{API}/auth/me", headers=alice.headers, **from_address("10.0.0.7"))
    assert me.status_code == 200


def test_login_and_register_are_counted_apart(client, alice):
    login = {"email": alice.email, "password": alice.password}
    for _ in range(2):
        assert client.post(f"{API}/auth/login", json=login).status_code == 200
    register = {"email": "new@example.com", "password": "password-123"}
    assert client.post(f"{API}/auth/register", json=register).status_code == 201


def test_login_and_register_do_not_count_against_the_api_limit(client, alice):
    login = {"email": alice.email, "password": alice.password}
    for _ in range(2):
        response = client.post(f"{API}/auth/login", json=login, **from_address("10.0.0.9"))
        assert response.headers["X-RateLimit-Limit"] == "2"
    # The API-wide limit (3) of this address is untouched by the two logins.
    for remaining in ("2", "1", "0"):
        response = client.get(f"{API}/todos/", **from_address("10.0.0.9"))
        assert response.status_code == 401
        assert response.headers["X-RateLimit-Remaining"] == remaining
    assert_rate_limited(client.get(f"{API}/todos/", **from_address("10.0.0.9")), 3)


@pytest.mark.parametrize("config_overrides", [{"RATELIMIT_DEFAULT": "5 per minute;3 per hour"}])
def test_each_of_several_api_limits_counts(auth_client, config_overrides):
    """The headers show the shortest window until a limit is exceeded, then that one."""
    for remaining in ("4", "3", "2"):
        response = auth_client.get(f"{API}/auth/me")
        assert response.status_code == 200
        assert response.headers["X-RateLimit-Limit"] == "5"
        assert response.headers["X-RateLimit-Remaining"] == remaining
    assert_rate_limited(auth_client.get(f"{API}/auth/me"), 3)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/healthz"),
        ("get", "/"),
        ("get", f"{API}/"),
        ("get", f"{API}/swagger.json"),
        ("options", f"{API}/todos/"),
    ],
)
def test_health_docs_and_preflights_are_not_limited(client, method, path):
    for _ in range(5):
        response = getattr(client, method)(path)
        assert response.status_code in (200, 302)
        assert "X-RateLimit-Limit" not in response.headers


@pytest.mark.parametrize("config_overrides", [{"RATELIMIT_ENABLED": False}])
def test_limits_can_be_switched_off(auth_client, config_overrides):
    for _ in range(10):
        response = auth_client.get(f"{API}/auth/me")
        assert response.status_code == 200
        assert "X-RateLimit-Limit" not in response.headers


@pytest.mark.parametrize(
    "config_overrides",
    [{"RATELIMIT_STORAGE_URI": "redis://127.0.0.1:1/0?socket_connect_timeout=0.5"}],
)
def test_an_unreachable_storage_fails_open(auth_client, config_overrides):
    response = auth_client.get(f"{API}/auth/me")
    assert response.status_code == 200
    assert "X-RateLimit-Limit" not in response.headers


def limiter_threads() -> list:
    return [thread for thread in threading.enumerate() if isinstance(thread, threading.Timer)]


def test_in_process_counts_start_no_thread(app, auth_client):
    from api.extensions import limiter
    from api.ratelimits import SweptMemoryStorage

    assert isinstance(limiter.storage, SweptMemoryStorage)
    before = limiter_threads()
    for _ in range(3):
        assert auth_client.get(f"{API}/auth/me").status_code == 200
        time.sleep(0.02)  # a base MemoryStorage starts its expiry timer again by now
    assert limiter_threads() == before
    assert_rate_limited(auth_client.get(f"{API}/auth/me"), 3)


def test_in_process_counts_are_swept_once_expired():
    from api.ratelimits import SweptMemoryStorage

    storage = SweptMemoryStorage()
    storage.incr("old", expiry=0.01)
    storage.incr("current", expiry=60)
    time.sleep(0.02)
    storage._next_sweep = 0  # the next hit is due to sweep
    storage.incr("new", expiry=60)
    assert set(storage.storage) == {"current", "new"}
    assert storage.get("current") == 1


def test_the_spec_documents_429_everywhere(client):
    spec = client.get(f"{API}/swagger.json").get_json()
    operations = [
        (method, path, operation)
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        if method != "parameters"
    ]
    for method, path, operation in operations:
        assert "429" in operation["responses"], (method, path)


@pytest.fixture
def redis_app(database, tmp_path, redis_prefix):
    from api.app import create_app
    from tests.conftest import make_config, running

    config = make_config(
        database,
        tmp_path,
        RATELIMIT_STORAGE_URI=REDIS_URL,
        RATELIMIT_KEY_PREFIX=redis_prefix[1],
        RATELIMIT_DEFAULT="3 per minute",
    )
    with running(create_app(config)) as app:
        yield app


def test_counts_are_kept_in_redis_under_the_key_prefix(redis_app, redis_prefix):
    redis_client, prefix = redis_prefix
    client = redis_app.test_client()
    for _ in range(3):
        assert client.get(f"{API}/todos/").status_code == 401
    assert_rate_limited(client.get(f"{API}/todos/"), 3)
    # Each application's own prefix, though an earlier one in this process had another.
    assert list(redis_client.scan_iter(match=f"*{prefix}*", count=1000))


@pytest.mark.slow
def test_two_server_processes_share_counts_and_retries(tmp_path, redis_prefix):
    """Two `manage.py run` processes, one SQLite file and one Redis: one count, one record."""
    from tests.live import server

    env = {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'shared.db'}",
        "RATELIMIT_STORAGE_URI": REDIS_URL,
        "RATELIMIT_KEY_PREFIX": redis_prefix[1],
        "RATELIMIT_DEFAULT": "5 per minute",
    }
    with (
        server("run", env=env, log=tmp_path / "a.log") as first,
        server("run", env=env, log=tmp_path / "b.log") as second,
    ):
        bearer = live_account(first, "shared@example.com")
        created = call(f"{first}{API}/auth/keys/", "POST", {"name": "counted"}, bearer)
        api_key = {"X-API-KEY": created.body["key"]}

        todo = {"title": "Once"}
        retry_key = {**bearer, "Idempotency-Key": "cross-process"}
        original = call(f"{first}{API}/todos/", "POST", todo, retry_key)
        replayed = call(f"{second}{API}/todos/", "POST", todo, retry_key)
        assert original.status == replayed.status == 201
        assert replayed.body == original.body
        assert replayed.headers["Idempotent-Replayed"] == "true"

        statuses = [
            call(f"{(first, second)[n % 2]}{API}/auth/me", headers=api_key).status for n in range(7)
        ]
        assert statuses == [200] * 5 + [429] * 2


def test_flask_limiters_own_hooks_run_only_on_routes_with_their_own_limit(
    monkeypatch, database, tmp_path, alice
):
    import flask_limiter

    from api.app import create_app
    from tests.conftest import make_config, running

    calls = []
    inject_headers = flask_limiter.Limiter._Limiter__inject_headers

    def spy(limiter, response):
        calls.append(response.status_code)
        return inject_headers(limiter, response)

    monkeypatch.setattr(flask_limiter.Limiter, "_Limiter__inject_headers", spy)
    with running(create_app(make_config(database, tmp_path))) as app:
        client = app.test_client()
        assert client.get(f"{API}/todos/", headers=alice.headers).status_code == 200
        assert calls == []
        body = {"email": "nobody@example.com", "password": "x" * 8}
        assert client.post(f"{API}/auth/login", json=body).status_code == 401
        assert calls == [401]


def test_a_fixed_window_request_increments_once_and_reads_no_count_back(app, auth_client):
    from api.extensions import limiter

    storage = limiter.limiter.storage
    calls, inside = [], []

    def spy(name, method):
        def call(*args, **kwargs):
            if not inside:  # what the storage calls of itself is its own business
                calls.append(name)
            inside.append(name)
            try:
                return method(*args, **kwargs)
            finally:
                inside.pop()

        return call

    names = ("incr", "get", "get_expiry")
    for name in names:
        setattr(storage, name, spy(name, getattr(storage, name)))
    try:
        response = auth_client.get(f"{API}/todos/")
    finally:
        for name in names:
            delattr(storage, name)
    assert response.headers["X-RateLimit-Remaining"] == "2"
    # The count the increment returns is the one the headers show.
    assert calls == ["incr", "get_expiry"]
