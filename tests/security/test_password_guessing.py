"""Guessing a password against `POST /auth/login` runs into a 429 long before 50 tries,
on `manage.py serve` (three workers) with the limits it ships with: counted by each
worker (`memory://`, the default) or by all of them together (Redis)."""

import pytest

from tests.conftest import REDIS_URL
from tests.live import call, register
from tests.security.conftest import SERVE_WORKERS

pytestmark = pytest.mark.slow


@pytest.fixture(params=["memory", "redis"])
def serve_env(request) -> dict:
    if request.param == "memory":
        return {}
    _, prefix = request.getfixturevalue("redis_prefix")
    return {"RATELIMIT_STORAGE_URI": REDIS_URL, "RATELIMIT_KEY_PREFIX": prefix}


def test_password_guessing_is_refused_with_429_before_50_attempts(served, serve_env):
    # Registering and logging in count too: the guesses get what is left.
    account = register(served.base, "target@example.com")
    statuses = []
    for attempt in range(50):
        guess = {"email": account.email, "password": f"guess-{attempt:03}"}
        status, head, body = call("POST", served.api + "/auth/login", guess)
        statuses.append(status)
        if status == 429:
            assert int(head["Retry-After"]) > 0 and body["message"]
            break
    assert statuses[-1] == 429, statuses
    assert set(statuses[:-1]) <= {401}
    if serve_env:
        # One count for every worker: from now on each of them refuses, even the right
        # password, so guessing gains nothing.
        right = {"email": account.email, "password": account.password}
        for _ in range(2 * SERVE_WORKERS):
            assert call("POST", served.api + "/auth/login", right)[0] == 429
