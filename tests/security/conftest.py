"""Alice owns one of everything; Bob owns his own; tests attack as Bob or as nobody."""

import subprocess
from typing import NamedTuple

import pytest

from models import ApiKey, db
from tests.live import manage, server_database, server_process

SERVE_WORKERS = 3
FAST_HASH = {"PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000"}
# These tests send hundreds of requests and logins from one address; limits this high
# keep the limiter in every request's path without it answering for the app.
HIGH_LIMITS = {"RATELIMIT_DEFAULT": "1000000 per hour", "RATELIMIT_AUTH": "100000 per minute"}


@pytest.fixture
def config_overrides():
    return dict(HIGH_LIMITS)


def make_resources(client, account, label: str, friend) -> dict:
    """One todo, one bucket list with one item shared with `friend` (a viewer), and the
    API key: their ids by name (`member` is the friend's account)."""
    with client.login(account):
        todo = client.post("/api/v1/todos/", json={"title": f"{label} todo"}).get_json()
        bucket = client.post("/api/v1/bucketlists/", json={"name": f"{label} bucket"}).get_json()
        item = client.post(
            f"/api/v1/bucketlists/{bucket['id']}/items/", json={"name": f"{label} item"}
        ).get_json()
        shared = client.post(
            f"/api/v1/bucketlists/{bucket['id']}/members/",
            json={"email": friend.email, "role": "viewer"},
        )
        assert shared.status_code == 201, shared.get_json()
    key = db.session.scalars(db.select(ApiKey).where(ApiKey.user_id == account.user.id)).one()
    return {
        "todo": todo["id"],
        "bucket": bucket["id"],
        "item": item["id"],
        "key": key.id,
        "member": friend.user.id,
    }


@pytest.fixture
def alices(client, alice, make_account) -> dict:
    # Carol has an account, and is no member: BODIES shares a list with her.
    make_account("carol@example.com")
    return make_resources(client, alice, "Alice's secret", make_account())


@pytest.fixture
def bobs(client, bob, make_account) -> dict:
    return make_resources(client, bob, "Bob's", make_account())


class Served(NamedTuple):
    base: str  # the server's root URL
    api: str
    database_url: str
    master: subprocess.Popen  # gunicorn's master; the workers are its children


@pytest.fixture
def serve_env() -> dict:
    """More environment for `served`: high rate limits unless a module says otherwise."""
    return dict(HIGH_LIMITS)


@pytest.fixture
def served(database, tmp_path, serve_env) -> Served:
    """`manage.py serve` with several gunicorn workers on a database of its own (an
    SQLite file, or a PostgreSQL schema when the suite runs there), migrated first."""
    with server_database(database, tmp_path) as url:
        env = {"DATABASE_URL": url, **FAST_HASH, **serve_env}
        manage("db", "upgrade", env=env)
        command = ("serve", "--workers", str(SERVE_WORKERS), "--threads", "2")
        with server_process(*command, env=env, log=tmp_path / "serve.log") as (base, master):
            yield Served(base, base + "/api/v1", url, master)
