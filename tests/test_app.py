"""The application shell: root redirect, Swagger UI, spec, health and JSON errors."""

import pytest

from api.factory import create_app
from tests.conftest import make_config


def test_root_redirects_to_swagger_ui(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/api/v1/")


def test_swagger_ui_is_served_at_the_api_root(client):
    response = client.get("/api/v1/")
    assert response.status_code == 200
    assert b"swagger-ui" in response.data
    assert b"swagger.json" in response.data


def test_spec_declares_both_authorizations(client):
    spec = client.get("/api/v1/swagger.json").get_json()
    assert spec["info"]["title"]
    assert spec["info"]["version"] == "1.0"
    assert spec["basePath"] == "/api/v1"
    definitions = spec["securityDefinitions"]
    apikey = {"type": "apiKey", "in": "header", "name": "X-API-KEY"}
    assert definitions["apikey"].items() >= apikey.items()
    assert "read" in definitions["apikey"]["description"]
    assert definitions["bearer"]["type"] == "apiKey"
    assert definitions["bearer"]["in"] == "header"
    assert definitions["bearer"]["name"] == "Authorization"


PUBLIC = {("post", "/auth/register"), ("post", "/auth/login")}


def test_every_protected_operation_requires_a_credential(client):
    spec = client.get("/api/v1/swagger.json").get_json()
    operations = [
        (method, path, op)
        for path, item in spec["paths"].items()
        for method, op in item.items()
        if method != "parameters"
    ]
    assert len(operations) > 10
    for method, path, op in operations:
        if (method, path) in PUBLIC:
            assert {"apikey": []} not in (op.get("security") or [])
            continue
        # Logout revokes the bearer token that calls it, so that is all it takes.
        expected = [{"bearer": []}] if path == "/auth/logout" else [{"apikey": []}, {"bearer": []}]
        assert op["security"] == expected, (method, path)
        assert "401" in op["responses"], (method, path)


def test_healthz(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_healthz_is_not_in_the_spec(client):
    assert "/healthz" not in client.get("/api/v1/swagger.json").get_json()["paths"]


def test_healthz_when_the_database_is_unreachable(database, tmp_path):
    url = f"sqlite:///{tmp_path}/missing/dir/db.sqlite"
    app = create_app(make_config(None, tmp_path, SQLALCHEMY_DATABASE_URI=url))
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["status"] == "unavailable"


def test_api_requests_get_503_json_when_the_database_is_unreachable(tmp_path, alice):
    url = f"sqlite:///{tmp_path}/missing/dir/db.sqlite"
    app = create_app(
        make_config(None, tmp_path, SQLALCHEMY_DATABASE_URI=url, PROPAGATE_EXCEPTIONS=False)
    )
    response = app.test_client().get("/api/v1/auth/me", headers=alice.headers)
    assert response.status_code == 503
    assert "database" in response.get_json()["message"].lower()


@pytest.mark.parametrize("path", ["/nope", "/api/v1/nope", "/api/v1/todos/1/nope"])
def test_unknown_urls_are_json_404(client, path):
    response = client.get(path)
    assert response.status_code == 404
    assert response.is_json
    assert response.get_json()["message"]


@pytest.mark.parametrize(
    ("method", "path"),
    [("delete", "/api/v1/auth/register"), ("put", "/api/v1/todos/"), ("post", "/healthz")],
)
def test_wrong_methods_are_json_405(client, method, path):
    response = getattr(client, method)(path)
    assert response.status_code == 405
    assert response.is_json
    assert response.get_json()["message"]
    assert "Allow" in response.headers


def _crashing_app(tmp_path, monkeypatch):
    app = create_app(make_config(None, tmp_path, PROPAGATE_EXCEPTIONS=False))

    def explode():
        raise RuntimeError("kaboom secret detail")

    app.add_url_rule("/explode", "explode", explode)
    return app


def test_500_outside_the_api_is_json_without_traceback(tmp_path, monkeypatch, caplog):
    app = _crashing_app(tmp_path, monkeypatch)
    response = app.test_client().get("/explode", headers={"X-Request-ID": "req-500"})
    assert response.status_code == 500
    assert response.is_json
    body = response.get_data(as_text=True)
    assert "Traceback" not in body and "kaboom" not in body
    assert response.headers["X-Request-ID"] == "req-500"


def test_500_inside_the_api_is_json_and_logged_with_the_request_id(
    tmp_path, monkeypatch, capsys, make_account
):
    app = create_app(make_config(None, tmp_path, PROPAGATE_EXCEPTIONS=False))
    with app.app_context():
        from models import db

        db.create_all()

    def explode(*args, **kwargs):
        raise RuntimeError("kaboom secret detail")

    monkeypatch.setattr("namespaces.auth.current_user", explode)
    with app.app_context():
        account = make_account()
    response = app.test_client().get(
        "/api/v1/auth/me", headers={**account.headers, "X-Request-ID": "req-42"}
    )
    assert response.status_code == 500
    body = response.get_data(as_text=True)
    assert response.is_json and "Traceback" not in body and "kaboom" not in body
    logged = capsys.readouterr().err
    assert "kaboom secret detail" in logged and "req-42" in logged


def test_request_id_is_echoed_or_generated(client):
    assert (
        client.get("/healthz", headers={"X-Request-ID": "abc-123"}).headers["X-Request-ID"]
        == "abc-123"
    )
    generated = client.get("/nope").headers["X-Request-ID"]
    assert len(generated) == 32


def test_an_unusable_request_id_is_replaced(client):
    response = client.get("/healthz", headers={"X-Request-ID": "bad id\twith spaces"})
    assert response.headers["X-Request-ID"] != "bad id\twith spaces"


def test_responses_are_nosniff(client):
    assert client.get("/healthz").headers["X-Content-Type-Options"] == "nosniff"
    assert client.get("/nope").headers["X-Content-Type-Options"] == "nosniff"


def test_no_cookie_session_is_read_or_set(client, app):
    with app.test_request_context("/api/v1/"):
        from flask import session

        assert session.__class__.__name__ == "NullSession"
    response = client.get("/api/v1/swagger.json", headers={"Cookie": "session=anything"})
    assert response.status_code == 200
    assert "Set-Cookie" not in response.headers
