"""`manage.py serve`: gunicorn with gunicorn.conf.py, started for real on a loopback port."""

import json
import multiprocessing
import urllib.request

import pytest

from api.tools.server import GunicornServer
from manage import GUNICORN_CONFIG
from tests.live import call, manage, register, server


def settings(options=None, config_file=GUNICORN_CONFIG):
    return GunicornServer(lambda: None, config_file, options).cfg


def test_the_config_file_holds_production_defaults(monkeypatch):
    monkeypatch.delenv("WEB_CONCURRENCY", raising=False)
    cfg = settings()
    assert cfg.workers == multiprocessing.cpu_count() * 2 + 1
    assert cfg.threads == 2
    assert cfg.worker_class_str == "gthread"
    assert cfg.bind == ["127.0.0.1:8000"]
    assert cfg.preload_app is True
    assert cfg.accesslog is None and cfg.errorlog == "-"
    assert cfg.timeout == 30 and cfg.graceful_timeout == 30
    assert cfg.max_requests > 0


def test_web_concurrency_sets_the_workers(monkeypatch):
    monkeypatch.setenv("WEB_CONCURRENCY", "7")
    assert settings().workers == 7


def test_command_line_options_win_over_the_file():
    cfg = settings({"bind": ["127.0.0.1:9999"], "workers": 2, "threads": None})
    assert cfg.bind == ["127.0.0.1:9999"]
    assert cfg.workers == 2
    assert cfg.threads == 2


def test_without_a_config_file_gunicorn_defaults_apply():
    cfg = settings({"workers": 3}, config_file=None)
    assert cfg.workers == 3 and cfg.preload_app is False


def production_database(tmp_path) -> dict:
    """The environment of a production `serve` on a migrated SQLite file in `tmp_path`."""
    env = {
        "APP_ENV": "production",
        "SECRET_KEY": "serve-secret",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'serve.db'}",
    }
    manage("db", "upgrade", env=env)
    return env


@pytest.mark.slow
def test_serve_answers_over_http(tmp_path):
    env = production_database(tmp_path)
    log = tmp_path / "server.log"
    with server("serve", "--workers", "2", "--threads", "2", env=env, log=log) as url:
        with urllib.request.urlopen(url + "/api/v1/swagger.json", timeout=10) as response:
            assert response.status == 200
            assert "/todos/" in json.load(response)["paths"]
        request = urllib.request.Request(
            url + "/api/v1/auth/register",
            data=json.dumps({"email": "serve@example.com", "password": "password-123"}).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 201
    output = log.read_text()
    assert "Starting gunicorn" in output
    assert "Using worker: gthread" in output
    assert output.count("Booting worker") == 2


def test_gunicorn_believes_no_forwarded_header():
    """X-Forwarded-* are the application's to believe (TRUSTED_PROXIES), not gunicorn's."""
    cfg = settings()
    assert cfg.forwarded_allow_ips == [] and cfg.secure_scheme_headers == {}


@pytest.mark.slow
def test_a_client_cannot_make_urls_https_under_serve(tmp_path):
    env = production_database(tmp_path)
    with server("serve", "--workers", "1", env=env, log=tmp_path / "server.log") as url:
        account = register(url, "forwarded@example.com")
        forged = {**account.headers, "X-Forwarded-Proto": "https", "X-Forwarded-Ssl": "on"}
        status, headers, body = call("POST", url + "/api/v1/todos/", {"title": "t"}, forged)
    assert status == 201
    assert body["uri"].startswith(url + "/api/v1/todos/")
    assert headers["Location"].startswith("http://")
