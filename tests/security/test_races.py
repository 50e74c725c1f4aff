"""Concurrent requests against `manage.py serve` (several gunicorn workers) keep their
promises: bounded numbers of threads, released together by a barrier."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import create_engine, text

from tests.live import call

pytestmark = pytest.mark.slow

CLIENTS = 16


def together(count: int, task) -> list:
    """`task(i)` for i in range(count), from `count` threads released at once."""
    barrier = threading.Barrier(count)

    def run(i):
        barrier.wait(timeout=60)
        return task(i)

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(run, range(count), timeout=120))


def scalar(database_url: str, query: str, **params):
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            return connection.execute(text(query), params).scalar()
    finally:
        engine.dispose()


def test_concurrent_registrations_of_one_email_make_one_account(served):
    api, database_url = served.api, served.database_url
    spellings = ["race@example.com", "RACE@example.com", "Race@Example.COM"]

    def register(i):
        body = {"email": spellings[i % len(spellings)], "password": f"password-{i:02}"}
        return call("POST", api + "/auth/register", body)[0]

    statuses = together(CLIENTS, register)
    assert sorted(statuses) == [201] + [409] * (CLIENTS - 1)
    users = "SELECT count(*) FROM users WHERE lower(email) = 'race@example.com'"
    assert scalar(database_url, users) == 1
    # The one account is the winner's: its password logs in, the others' do not.
    winner = statuses.index(201)
    for i in range(CLIENTS):
        login = {"email": "race@example.com", "password": f"password-{i:02}"}
        assert call("POST", api + "/auth/login", login)[0] == (200 if i == winner else 401)
