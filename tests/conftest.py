"""Fixtures: a fresh application and database per test, and clients that log in."""

import os
import uuid
from contextlib import contextmanager
from typing import NamedTuple

import pytest
from flask.testing import FlaskClient
from sqlalchemy import create_engine, event, text

from api import config as settings
from api.config import database_url
from api.factory import create_app
from models import ApiKey, User, db

TEST_DATABASE_URL = database_url(os.environ.get("TEST_DATABASE_URL"))
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


class Account(NamedTuple):
    user: User
    key: str
    email: str
    password: str

    @property
    def headers(self) -> dict:
        return {"X-API-KEY": self.key}


class ApiClient(FlaskClient):
    """A test client that can send one account's API key with every request."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.default_headers = {}

    def open(self, *args, **kwargs):
        headers = {**self.default_headers, **dict(kwargs.pop("headers", None) or {})}
        return super().open(*args, headers=headers, **kwargs)

    @contextmanager
    def login(self, account: Account):
        previous = self.default_headers
        self.default_headers = {**previous, **account.headers}
        try:
            yield self
        finally:
            self.default_headers = previous


@pytest.fixture(scope="session")
def database():
    """Where test databases live: a fresh PostgreSQL schema per run, or SQLite files."""
    if not TEST_DATABASE_URL:
        yield None
        return
    schema = f"test_{uuid.uuid4().hex[:12]}"
    engine = create_engine(TEST_DATABASE_URL)
    with engine.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    yield {"url": TEST_DATABASE_URL, "schema": schema}
    with engine.begin() as connection:
        connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    engine.dispose()


def make_config(database, tmp_path, **overrides) -> settings.TestingConfig:
    if database is None:
        overrides.setdefault("SQLALCHEMY_DATABASE_URI", f"sqlite:///{tmp_path / 'test.db'}")
    else:
        overrides.setdefault("SQLALCHEMY_DATABASE_URI", database["url"])
        overrides.setdefault(
            "SQLALCHEMY_ENGINE_OPTIONS",
            {"connect_args": {"options": f"-csearch_path={database['schema']}"}},
        )
    return settings.TestingConfig(**overrides)


@pytest.fixture
def config_overrides():
    """Per-module configuration changes; override this fixture to set them."""
    return {}


@contextmanager
def running(app):
    """`app` with its tables created, in an app context; dropped and disconnected after."""
    app.test_client_class = ApiClient
    with app.app_context():
        db.create_all()
        try:
            yield app
        finally:
            db.session.remove()
            db.drop_all()
            for engine in db.engines.values():
                engine.dispose()


@pytest.fixture
def app(database, tmp_path, config_overrides):
    with running(create_app(make_config(database, tmp_path, **config_overrides))) as app:
        yield app


@pytest.fixture
def client(app) -> ApiClient:
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def make_account(app):
    """Create accounts straight in the database, each with one API key."""
    counter = iter(range(1, 10_000))

    def make(email: str | None = None, password: str = "password-123") -> Account:
        email = email or f"user{next(counter)}@example.com"
        user = User(email=email)
        user.set_password(password, app.config["PASSWORD_HASH_METHOD"])
        db.session.add(user)
        db.session.flush()
        key, secret = ApiKey.issue(user, "tests")
        db.session.add(key)
        db.session.commit()
        return Account(user, secret, email, password)

    return make


@pytest.fixture
def alice(make_account) -> Account:
    return make_account("alice@example.com")


@pytest.fixture
def bob(make_account) -> Account:
    return make_account("bob@example.com")


@pytest.fixture
def auth_client(client, alice) -> ApiClient:
    """A client logged in as alice."""
    with client.login(alice):
        yield client


@pytest.fixture
def live_server(tmp_path):
    """`manage.py run` on a loopback port with its own SQLite file; yields the base URL."""
    from tests.live import server

    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'live.db'}"}
    with server("run", env=env, log=tmp_path / "server.log") as url:
        yield url


class StatementLog(list):
    """SQL statements the application ran while `capture()` was active."""

    @contextmanager
    def capture(self):
        self.clear()
        self.parameters = []
        engine = db.engine

        def record(conn, cursor, statement, parameters, context, executemany):
            self.append(statement)
            self.parameters.append(parameters)

        event.listen(engine, "before_cursor_execute", record)
        try:
            yield self
        finally:
            event.remove(engine, "before_cursor_execute", record)

    @property
    def selects(self) -> list[str]:
        return [s for s in self if s.lstrip().upper().startswith("SELECT")]

    def skipped_rows(self, statement: str) -> int:
        """The OFFSET a captured statement used (SQLite always writes one, often 0)."""
        if "OFFSET" not in statement.upper():
            return 0
        parameters = self.parameters[self.index(statement)]
        values = list(parameters.values()) if isinstance(parameters, dict) else list(parameters)
        return values[-1]


@pytest.fixture
def statements(app) -> StatementLog:
    return StatementLog()


@pytest.fixture(params=["in-process", "live"])
def http(request, app, alice):
    """Alice's way to call the API: the test client on the test database, or a live server."""
    from tests.clients import AppHttp, LiveHttp, live_account

    if request.param == "in-process":
        return AppHttp(app, alice.headers)
    base_url = request.getfixturevalue("live_server")
    return LiveHttp(base_url, live_account(base_url, alice.email))


@pytest.fixture
def redis_prefix():
    """A key prefix of this test's own in a Redis that answers; its keys go afterwards."""
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1, socket_timeout=2)
    try:
        client.ping()
    except redis.RedisError as error:
        pytest.skip(f"no Redis answers at {REDIS_URL} ({error}); set TEST_REDIS_URL to test it")
    prefix = f"test-{uuid.uuid4().hex[:12]}"
    yield client, prefix
    stale = list(client.scan_iter(match=f"*{prefix}*", count=1000))
    if stale:
        client.delete(*stale)
    client.close()
