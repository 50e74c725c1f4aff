import pytest

from api import config as settings
from api.config import Config, DevelopmentConfig, config_from_env, database_url
from api.factory import create_app


def test_testing_config(app):
    assert app.testing
    assert app.config["SECRET_KEY"]


def test_production_refuses_to_start_without_secret_key(monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app(Config())


def test_development_has_a_default_secret_key(monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    assert DevelopmentConfig().SECRET_KEY


def test_config_reads_the_environment(monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "s3cret")
    monkeypatch.setenv("TOKEN_TTL", "60")
    monkeypatch.setenv("MAX_CONTENT_LENGTH", "2048")
    monkeypatch.setenv("LOG_LEVEL", "debug")
    monkeypatch.setenv("DATABASE_URL", "postgres://u@db/todos")
    config = Config()
    assert config.SECRET_KEY == "s3cret"
    assert config.TOKEN_TTL == 60
    assert config.MAX_CONTENT_LENGTH == 2048
    assert config.LOG_LEVEL == "DEBUG"
    assert config.SQLALCHEMY_DATABASE_URI == "postgresql+psycopg://u@db/todos"


def test_defaults(monkeypatch):
    for name in ("TOKEN_TTL", "MAX_CONTENT_LENGTH", "DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    config = Config()
    assert config.TOKEN_TTL == 24 * 3600
    assert config.MAX_CONTENT_LENGTH == 1024 * 1024
    assert config.SQLALCHEMY_DATABASE_URI is None


def test_database_defaults_to_sqlite_in_the_instance_folder(monkeypatch, tmp_path):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    app = create_app(settings.TestingConfig(SQLALCHEMY_DATABASE_URI=None))
    assert app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///")
    assert app.config["SQLALCHEMY_DATABASE_URI"].endswith("instance/todos.db")


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgresql://u@h/d", "postgresql+psycopg://u@h/d"),
        ("postgresql+psycopg://u@h/d", "postgresql+psycopg://u@h/d"),
        ("sqlite:///x.db", "sqlite:///x.db"),
        (None, None),
    ],
)
def test_database_url(given, expected):
    assert database_url(given) == expected


@pytest.mark.parametrize(
    ("name", "cls"), [("testing", settings.TestingConfig), ("development", DevelopmentConfig)]
)
def test_app_env_selects_the_config(monkeypatch, name, cls):
    monkeypatch.setenv("APP_ENV", name)
    assert type(config_from_env()) is cls


def test_unknown_app_env(monkeypatch):
    monkeypatch.setenv("APP_ENV", "staging")
    with pytest.raises(RuntimeError, match="APP_ENV"):
        config_from_env()


@pytest.mark.parametrize("config_overrides", [{"TRUSTED_PROXIES": 1}])
def test_behind_a_trusted_proxy_urls_and_addresses_come_from_it(auth_client, config_overrides):
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "api.example.com"}
    created = auth_client.post("/api/v1/todos/", json={"title": "x"}, headers=forwarded)
    assert created.get_json()["uri"].startswith("https://api.example.com/api/v1/todos/")


def test_forwarded_headers_are_ignored_without_trusted_proxies(auth_client):
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "evil.example.com"}
    created = auth_client.post("/api/v1/todos/", json={"title": "x"}, headers=forwarded)
    assert created.get_json()["uri"].startswith("http://localhost/")


def test_each_request_gets_urls_on_its_own_host(auth_client):
    created = auth_client.post("/api/v1/todos/", json={"title": "x"}).get_json()
    for root in ("http://a.example/", "https://b.example:8443/", "http://a.example/"):
        page = auth_client.get("/api/v1/todos/", base_url=root)
        assert page.get_json()[0]["uri"] == f"{root}api/v1/todos/{created['id']}"
        assert f"<{root}api/v1/todos/?" in page.headers["Link"]
