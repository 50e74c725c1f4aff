"""Request logs: one line per request, structured, with the request id and no secrets."""

import json

import pytest

from api.factory import create_app
from tests.conftest import make_config, running

PASSWORD = "correct horse battery staple"


@pytest.fixture
def json_app(database, tmp_path):
    with running(create_app(make_config(database, tmp_path, LOG_FORMAT="json"))) as app:
        yield app


def lines(capsys) -> list[dict]:
    return [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.strip()]


def test_one_json_line_per_request(json_app, capsys):
    client = json_app.test_client()
    capsys.readouterr()
    client.get("/healthz", headers={"X-Request-ID": "trace-1"})
    [line] = lines(capsys)
    assert line["request_id"] == "trace-1"
    assert (line["method"], line["path"], line["status"]) == ("GET", "/healthz", 200)
    assert line["user_id"] is None
    assert isinstance(line["duration_ms"], float)
    assert line["time"].endswith("+00:00") and line["level"] == "INFO"


def test_the_line_names_the_user(json_app, capsys):
    client = json_app.test_client()
    client.post("/api/v1/auth/register", json={"email": "ada@example.com", "password": PASSWORD})
    token = client.post("/api/v1/auth/login", auth=("ada@example.com", PASSWORD)).get_json()
    capsys.readouterr()
    client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token['access_token']}"})
    [line] = lines(capsys)
    assert line["user_id"] == 1 and line["status"] == 200


def test_text_lines_carry_the_request_id(app, capsys):
    app.test_client().get("/nope", headers={"X-Request-ID": "trace-2"})
    assert "[trace-2]" in capsys.readouterr().err
