"""Rate limits: per account on the API, per address without a valid credential and on
login and register; 429 JSON with Retry-After; the X-RateLimit-* and RateLimit fields."""

import re
import secrets
import time

import pytest
from werkzeug.exceptions import ServiceUnavailable

from api.factory import create_app
from models import ApiKey, db
from tests.clients import call, live_account
from tests.conftest import REDIS_URL, make_config, running

API = "/api/v1"
LIMIT = 3
AUTH_LIMIT = 2


LIMITS = {"RATELIMIT_DEFAULT": f"{LIMIT} per minute", "RATELIMIT_AUTH": f"{AUTH_LIMIT} per minute"}


@pytest.fixture
def config_overrides():
    return dict(LIMITS)


def from_address(address: str) -> dict:
    return {"environ_base": {"REMOTE_ADDR": address}}


def random_key() -> dict:
    return {"X-API-KEY": "tk_" + secrets.token_urlsafe(32)}


def random_token() -> dict:
    return {"Authorization": "Bearer " + secrets.token_urlsafe(32)}


def assert_rate_limited(response, limit: int) -> None:
    assert response.status_code == 429
    assert response.is_json and "limit" in response.get_json()["message"]
    assert int(response.headers["Retry-After"]) >= 1
    assert response.headers["X-RateLimit-Limit"] == str(limit)
    assert response.headers["X-RateLimit-Remaining"] == "0"
    assert response.headers["X-Request-ID"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def bearer_token(client, account) -> dict:
    login = {"email": account.email, "password": account.password}
    response = client.post(f"{API}/auth/login", json=login)
    assert response.status_code == 200
    return {"Authorization": "Bearer " + response.get_json()["access_token"]}


def second_key(account) -> dict:
    key, secret = ApiKey.issue(account.user, "second")
    db.session.add(key)
    db.session.commit()
    return {"X-API-KEY": secret}


# One count per account across the API


def test_every_key_and_token_of_an_account_shares_one_count(client, alice, bob):
    token, other_key = bearer_token(client, alice), second_key(alice)
    assert client.get(f"{API}/auth/me", headers=alice.headers).status_code == 200
    assert client.get(f"{API}/todos/", headers=token).status_code == 200
    assert client.post(f"{API}/todos/", json={"title": "x"}, headers=other_key).status_code == 201
    # The account's three requests used up its limit, whichever credential is sent next.
    for credential in (alice.headers, token, other_key):
        assert_rate_limited(client.get(f"{API}/todos/", headers=credential), LIMIT)
    # Another account has a count of its own.
    assert client.get(f"{API}/auth/me", headers=bob.headers).status_code == 200


def test_an_account_is_counted_whatever_address_it_comes_from(client, alice):
    for n in range(LIMIT):
        response = client.get(
            f"{API}/auth/me", headers=alice.headers, **from_address(f"10.1.0.{n}")
        )
        assert response.status_code == 200
    assert_rate_limited(
        client.get(f"{API}/auth/me", headers=alice.headers, **from_address("10.1.0.99")), LIMIT
    )


# Without a valid credential, by client address


@pytest.mark.parametrize("guess", [random_key, random_token, dict], ids=["key", "token", "none"])
def test_bad_credentials_count_against_the_address(client, guess):
    for _ in range(LIMIT):
        response = client.get(f"{API}/todos/", headers=guess(), **from_address("10.0.0.1"))
        assert response.status_code == 401
    # Each new guess meets the address's count: a 429, not a 401 that tells it was wrong.
    for _ in range(5):
        response = client.get(f"{API}/todos/", headers=guess(), **from_address("10.0.0.1"))
        assert_rate_limited(response, LIMIT)
    assert (
        client.get(f"{API}/todos/", headers=guess(), **from_address("10.0.0.2")).status_code == 401
    )


def test_guessing_from_an_address_leaves_its_accounts_counts_alone(client, alice):
    for _ in range(LIMIT + 1):
        client.get(f"{API}/todos/", headers=random_key(), **from_address("10.0.0.3"))
    response = client.get(f"{API}/todos/", headers=alice.headers, **from_address("10.0.0.3"))
    assert response.status_code == 200
    assert response.headers["X-RateLimit-Remaining"] == str(LIMIT - 1)


# Login and register: per address, instead of the API-wide limit


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/auth/login", {"email": "alice@example.com", "password": "wrong-password"}),
        ("/auth/register", {"email": "new@example.com", "password": "password-123"}),
    ],
)
def test_password_endpoints_are_limited_per_address(client, alice, path, body):
    for _ in range(AUTH_LIMIT):
        response = client.post(API + path, json=body, **from_address("10.0.0.7"))
        assert response.status_code != 429
    assert_rate_limited(client.post(API + path, json=body, **from_address("10.0.0.7")), AUTH_LIMIT)
    # Another address, and the same address on the rest of the API, are unaffected.
    assert client.post(API + path, json=body, **from_address("10.0.0.8")).status_code != 429
    me = client.get(f"{API}/auth/me", headers=alice.headers, **from_address("10.0.0.7"))
    assert me.status_code == 200


def test_login_and_register_are_counted_apart(client, alice):
    login = {"email": alice.email, "password": alice.password}
    for _ in range(AUTH_LIMIT):
        assert client.post(f"{API}/auth/login", json=login).status_code == 200
    register = {"email": "new@example.com", "password": "password-123"}
    assert client.post(f"{API}/auth/register", json=register).status_code == 201


def test_login_and_register_do_not_count_against_the_api_limit(client, alice):
    login = {"email": alice.email, "password": alice.password}
    for _ in range(AUTH_LIMIT):
        response = client.post(f"{API}/auth/login", json=login, **from_address("10.0.0.9"))
        assert response.headers["X-RateLimit-Limit"] == str(AUTH_LIMIT)
    # The API-wide limit of this address is untouched by the logins.
    for remaining in range(LIMIT - 1, -1, -1):
        response = client.get(f"{API}/todos/", **from_address("10.0.0.9"))
        assert response.status_code == 401
        assert response.headers["X-RateLimit-Remaining"] == str(remaining)
    assert_rate_limited(client.get(f"{API}/todos/", **from_address("10.0.0.9")), LIMIT)


# Headers


def field(response, name: str) -> list[dict]:
    """A RateLimit or RateLimit-Policy field: one dict per list member, its name as "name"."""
    members = []
    for member in response.headers[name].split(","):
        label, *parameters = member.strip().split(";")
        assert re.fullmatch(r'"[a-z0-9-]+"', label), member
        values = dict(parameter.split("=") for parameter in parameters)
        members.append({"name": label.strip('"'), **{k: int(v) for k, v in values.items()}})
    return members


def test_limited_responses_carry_the_rate_limit_fields(auth_client):
    before = time.time()
    response = auth_client.get(f"{API}/auth/me")
    assert response.status_code == 200
    assert response.headers["X-RateLimit-Limit"] == str(LIMIT)
    assert response.headers["X-RateLimit-Remaining"] == str(LIMIT - 1)
    reset = int(response.headers["X-RateLimit-Reset"])
    assert before < reset <= before + 62
    assert field(response, "RateLimit-Policy") == [{"name": "default", "q": LIMIT, "w": 60}]
    [state] = field(response, "RateLimit")
    assert state["name"] == "default" and state["r"] == LIMIT - 1
    assert 0 < state["t"] <= 60
    assert "Retry-After" not in response.headers


def test_a_429_says_when_to_retry(auth_client):
    for _ in range(LIMIT):
        auth_client.get(f"{API}/auth/me")
    response = auth_client.get(f"{API}/auth/me")
    assert_rate_limited(response, LIMIT)
    [state] = field(response, "RateLimit")
    assert state["r"] == 0
    retry_after = int(response.headers["Retry-After"])
    assert 1 <= retry_after <= 61
    assert retry_after >= state["t"]  # not before the end of the window


def test_the_password_endpoints_announce_their_own_policy(client, alice):
    login = {"email": alice.email, "password": alice.password}
    response = client.post(f"{API}/auth/login", json=login)
    assert field(response, "RateLimit-Policy") == [{"name": "auth", "q": AUTH_LIMIT, "w": 60}]
    assert field(response, "RateLimit")[0]["r"] == AUTH_LIMIT - 1


@pytest.mark.parametrize("config_overrides", [{"RATELIMIT_DEFAULT": "5 per minute;3 per hour"}])
def test_each_of_several_api_limits_counts(auth_client, config_overrides):
    """The headers show the shortest window until a limit is exceeded, then that one."""
    for remaining in (4, 3, 2):
        response = auth_client.get(f"{API}/auth/me")
        assert response.status_code == 200
        assert response.headers["X-RateLimit-Limit"] == "5"
        assert response.headers["X-RateLimit-Remaining"] == str(remaining)
        assert field(response, "RateLimit")[0]["name"] == "default-60"
    response = auth_client.get(f"{API}/auth/me")
    assert_rate_limited(response, 3)
    assert field(response, "RateLimit-Policy") == [
        {"name": "default-60", "q": 5, "w": 60},
        {"name": "default-3600", "q": 3, "w": 3600},
    ]
    [state] = field(response, "RateLimit")
    assert state["name"] == "default-3600" and state["r"] == 0


def test_another_answers_retry_after_is_kept(app, client):
    """A limited 503 keeps its own Retry-After: the limiter does not stretch it to its window."""

    def unavailable():
        raise ServiceUnavailable(retry_after=5)

    app.add_url_rule("/unavailable", "unavailable", unavailable)
    response = client.get("/unavailable")
    assert response.status_code == 503
    assert response.headers["X-RateLimit-Limit"] == str(LIMIT)
    assert response.headers["Retry-After"] == "5"


# What is not limited, and switching off


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/healthz"),
        ("get", "/"),
        ("get", f"{API}/"),
        ("get", f"{API}/swagger.json"),
        ("get", f"{API}/openapi.json"),
        ("options", f"{API}/todos/"),
    ],
)
def test_health_docs_and_preflights_are_not_limited(client, method, path):
    for _ in range(LIMIT + 2):
        response = getattr(client, method)(path)
        assert response.status_code in (200, 302)
        assert "X-RateLimit-Limit" not in response.headers
        assert "RateLimit" not in response.headers
    # Nor do they count against the address's API limit.
    assert client.get(f"{API}/todos/").headers["X-RateLimit-Remaining"] == str(LIMIT - 1)


@pytest.mark.parametrize("config_overrides", [{**LIMITS, "RATELIMIT_ENABLED": False}])
def test_limits_can_be_switched_off(client, alice, config_overrides):
    login = {"email": alice.email, "password": alice.password}
    for _ in range(LIMIT + AUTH_LIMIT + 2):
        response = client.get(f"{API}/auth/me", headers=alice.headers)
        assert response.status_code == 200
        assert "X-RateLimit-Limit" not in response.headers
        assert client.post(f"{API}/auth/login", json=login).status_code == 200


@pytest.mark.parametrize("config_overrides", [{**LIMITS, "RATELIMIT_HEADERS_ENABLED": False}])
def test_the_headers_can_be_switched_off_without_the_limits(auth_client, config_overrides):
    for _ in range(LIMIT):
        response = auth_client.get(f"{API}/auth/me")
        assert response.status_code == 200
        assert not {"X-RateLimit-Limit", "RateLimit", "RateLimit-Policy"} & set(response.headers)
    assert auth_client.get(f"{API}/auth/me").status_code == 429


@pytest.mark.parametrize(
    "config_overrides",
    [{**LIMITS, "RATELIMIT_STORAGE_URI": "redis://127.0.0.1:1/0?socket_connect_timeout=0.5"}],
)
def test_an_unreachable_storage_fails_open(client, alice, config_overrides, caplog, capsys):
    login = {"email": alice.email, "password": alice.password}
    for _ in range(LIMIT + 1):
        response = client.get(f"{API}/auth/me", headers=alice.headers)
        assert response.status_code == 200
        assert "X-RateLimit-Limit" not in response.headers
    for _ in range(AUTH_LIMIT + 1):
        assert client.post(f"{API}/auth/login", json=login).status_code == 200
    # Logged, whether the limiter's logger is the application's or left to propagate.
    logged = [r for r in caplog.records if r.name == "flask-limiter" and r.exc_info]
    assert logged or "ConnectionError" in capsys.readouterr().err


# Each application its own settings


def test_each_application_keeps_its_own_limits(app, client, database, tmp_path):
    """A second application in the process, with other limits, changes nothing in the first."""
    other_config = make_config(
        database, tmp_path / "other", RATELIMIT_DEFAULT="5 per minute", RATELIMIT_AUTH="1 per hour"
    )
    (tmp_path / "other").mkdir()
    with running(create_app(other_config)) as other:
        other_client = other.test_client()
        assert other_client.get(f"{API}/todos/").headers["X-RateLimit-Limit"] == "5"
        assert client.get(f"{API}/todos/").headers["X-RateLimit-Limit"] == str(LIMIT)
        body = {"email": "nobody@example.com", "password": "password-123"}
        login = other_client.post(f"{API}/auth/login", json=body)
        assert field(login, "RateLimit-Policy") == [{"name": "auth", "q": 1, "w": 3600}]
        assert client.get(f"{API}/todos/").headers["X-RateLimit-Remaining"] == str(LIMIT - 2)


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


# Redis


def redis_app(database, tmp_path, prefix: str, **overrides):
    config = make_config(
        database,
        tmp_path,
        RATELIMIT_STORAGE_URI=REDIS_URL,
        RATELIMIT_KEY_PREFIX=prefix,
        RATELIMIT_DEFAULT=f"{LIMIT} per minute",
        **overrides,
    )
    return running(create_app(config))


def test_counts_are_kept_in_redis_under_each_applications_prefix(database, tmp_path, redis_prefix):
    redis_client, prefix = redis_prefix
    first_prefix = prefix + "-first"
    (tmp_path / "first").mkdir()
    with redis_app(database, tmp_path / "first", first_prefix) as first:
        assert first.test_client().get(f"{API}/todos/").status_code == 401
    # A later application in the same process counts under its own prefix.
    with redis_app(database, tmp_path, prefix) as app:
        client = app.test_client()
        for _ in range(LIMIT):
            assert client.get(f"{API}/todos/").status_code == 401
        assert_rate_limited(client.get(f"{API}/todos/"), LIMIT)
    keys = [key.decode() for key in redis_client.scan_iter(match=f"*{prefix}*", count=1000)]
    own = [key for key in keys if f"/{prefix}/" in key]
    first = [key for key in keys if f"/{first_prefix}/" in key]
    assert len(own) == 1 and "address:127.0.0.1" in own[0], keys
    assert len(first) == 1, keys
    assert int(redis_client.get(own[0])) == LIMIT + 1
    assert int(redis_client.get(first[0])) == 1


def test_an_accounts_count_in_redis_is_one_for_all_its_credentials(
    database, tmp_path, redis_prefix
):
    redis_client, prefix = redis_prefix
    with redis_app(database, tmp_path, prefix) as app:
        client = app.test_client()
        body = {"email": "carol@example.com", "password": "password-123"}
        carol = client.post(f"{API}/auth/register", json=body).get_json()
        token = {
            "Authorization": "Bearer "
            + client.post(f"{API}/auth/login", json=body).get_json()["access_token"]
        }
        created = client.post(f"{API}/auth/keys/", json={"name": "second"}, headers=token)
        assert created.status_code == 201
        key = {"X-API-KEY": created.get_json()["key"]}
        for headers in (key, token):
            assert client.get(f"{API}/auth/me", headers=headers).status_code == 200
        assert_rate_limited(client.get(f"{API}/auth/me", headers=key), LIMIT)
    counted = [key.decode() for key in redis_client.scan_iter(match=f"*{prefix}*", count=1000)]
    api_counts = [key for key in counted if "/api/" in key]
    assert len(api_counts) == 1, counted
    assert f"/account:{carol['id']}/" in api_counts[0]
    assert int(redis_client.get(api_counts[0])) == LIMIT + 1


@pytest.mark.slow
def test_two_server_processes_share_counts_and_retries(tmp_path, redis_prefix):
    """Two `manage.py run` processes, one SQLite file and one Redis: one count per account
    across them and across its credentials, one record of an idempotent POST."""
    from tests.live import server

    env = {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'shared.db'}",
        "RATELIMIT_STORAGE_URI": REDIS_URL,
        "RATELIMIT_KEY_PREFIX": redis_prefix[1],
        "RATELIMIT_DEFAULT": "8 per minute",
    }
    with (
        server("run", env=env, log=tmp_path / "a.log") as first,
        server("run", env=env, log=tmp_path / "b.log") as second,
    ):
        bearer = live_account(first, "shared@example.com")  # login and register: not counted
        created = call(f"{first}{API}/auth/keys/", "POST", {"name": "counted"}, bearer)
        api_key = {"X-API-KEY": created.body["key"]}

        todo = {"title": "Once"}
        retry_key = {**bearer, "Idempotency-Key": "cross-process"}
        original = call(f"{first}{API}/todos/", "POST", todo, retry_key)
        replayed = call(f"{second}{API}/todos/", "POST", todo, retry_key)
        assert original.status == replayed.status == 201
        assert replayed.body == original.body
        assert replayed.headers["Idempotent-Replayed"] == "true"

        # Three requests counted so far; five more reach the limit of eight.
        statuses = [
            call(
                f"{(first, second)[n % 2]}{API}/auth/me", headers=(api_key, bearer)[n // 2 % 2]
            ).status
            for n in range(7)
        ]
        assert statuses == [200] * 5 + [429] * 2
