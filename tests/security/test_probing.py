"""Holes black-box probing found, each closed: what an attacker tried, and what they get now."""

import io

import pytest
from sqlalchemy import func, select

from api.factory import create_app
from api.policies.authentication import TWO_CREDENTIALS
from models import AccessToken, ApiKey, Todo, db
from tests.conftest import make_config, running
from tests.security.routes import ONES, WITH_IDS, url

TODOS = "/api/v1/todos/"


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_the_docs_page_cannot_be_framed(client):
    response = client.get("/api/v1/")
    assert response.status_code == 200
    assert response.headers["Content-Security-Policy"] == "frame-ancestors 'none'"
    assert response.headers["X-Frame-Options"] == "DENY"


@pytest.mark.parametrize("path", [TODOS, "/api/v1/auth/me", "/api/v1/todos/999999"])
def test_answers_to_a_credential_are_private_and_vary_by_it(auth_client, path):
    response = auth_client.get(path)
    assert response.headers["Cache-Control"] == "private"
    assert {"X-API-KEY", "Authorization", "X-Fields"} <= set(response.vary)


def test_anonymous_answers_are_not_marked_private(client):
    assert "Cache-Control" not in client.get("/api/v1/swagger.json").headers


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_if_none_match_star_on_a_write_of_an_existing_row_is_412(auth_client, method):
    todo = auth_client.post(TODOS, json={"title": "Exists"}).get_json()
    body = None if method == "delete" else {"title": "Changed"}
    response = getattr(auth_client, method)(
        f"{TODOS}{todo['id']}", json=body, headers={"If-None-Match": "*"}
    )
    assert response.status_code == 412
    assert response.get_json()["message"]
    assert auth_client.get(f"{TODOS}{todo['id']}").get_json()["title"] == "Exists"


@pytest.mark.parametrize("where", ["header", "query"])
def test_a_mask_cannot_hide_a_new_keys_secret(auth_client, where):
    before = count(ApiKey)
    headers, path = (
        ({"X-Fields": "{id}"}, "/api/v1/auth/keys/")
        if where == "header"
        else (
            {},
            "/api/v1/auth/keys/?fields={id,name}",
        )
    )
    response = auth_client.post(path, json={"name": "hidden"}, headers=headers)
    assert response.status_code == 400
    assert "key" in response.get_json()["message"]
    assert count(ApiKey) == before
    shown = auth_client.post(
        "/api/v1/auth/keys/", json={"name": "shown"}, headers={"X-Fields": "{id,key}"}
    )
    assert shown.status_code == 201 and set(shown.get_json()) == {"id", "key"}


def test_a_mask_cannot_hide_a_new_token(client, alice):
    credentials = {"email": alice.email, "password": alice.password}
    response = client.post(
        "/api/v1/auth/login", json=credentials, headers={"X-Fields": "{token_type}"}
    )
    assert response.status_code == 400
    assert count(AccessToken) == 0


def test_two_credentials_in_one_request_are_refused(client, alice, bob):
    credentials = {"email": bob.email, "password": bob.password}
    token = client.post("/api/v1/auth/login", json=credentials).get_json()["access_token"]
    headers = {"X-API-KEY": alice.key, "Authorization": f"Bearer {token}"}
    listed = client.get(TODOS, headers=headers)
    assert listed.status_code == 401
    assert listed.get_json()["message"] == TWO_CREDENTIALS
    created = client.post(TODOS, json={"title": "Whose?"}, headers=headers)
    assert created.status_code == 401
    assert count(Todo) == 0


@pytest.mark.parametrize(
    ("headers", "data"),
    [
        ({"Content-Type": "text/plain"}, "not json"),
        ({"Content-Type": "application/json"}, "x" * (1024 * 1024 + 10)),
    ],
    ids=["wrong content type", "too large"],
)
def test_a_stranger_gets_401_whatever_the_body(client, headers, data):
    response = client.post(TODOS, data=data, headers=headers)
    assert response.status_code == 401
    assert "WWW-Authenticate" in response.headers


def test_public_routes_still_check_the_body_first(client):
    response = client.post(
        "/api/v1/auth/register", data="x", headers={"Content-Type": "text/plain"}
    )
    assert response.status_code == 415


def test_the_text_log_escapes_control_characters(auth_client, capsys):
    auth_client.get("/api/v1/todos/%0a2026-12-03 INFO forged line%1b[31m")
    lines = [line for line in capsys.readouterr().err.splitlines() if "api.access" in line]
    assert len(lines) == 1
    assert "\\x0a2026-12-03 INFO forged line\\x1b[31m" in lines[0]
    assert "\x1b" not in lines[0]


@pytest.mark.parametrize(
    ("title", "query"),
    [("Café crème", "CAFÉ"), ("ÉCOLE du soir", "école"), ("Σοφία's book", "ΣΟΦΊΑ")],
)
def test_q_ignores_case_in_any_language(auth_client, title, query):
    auth_client.post(TODOS, json={"title": title})
    auth_client.post(TODOS, json={"title": "Something else"})
    found = auth_client.get(TODOS, query_string={"q": query}).get_json()
    assert [todo["title"] for todo in found] == [title]


def test_public_url_builds_every_absolute_url_whatever_the_host(make_account, tmp_path, database):
    config = make_config(database, tmp_path, PUBLIC_URL="https://todos.example.com/base")
    with running(create_app(config)) as app:
        account = make_account("public@example.com")
        client = app.test_client()
        headers = {**account.headers, "Host": "evil.example", "X-Forwarded-Proto": "https"}
        created = client.post(TODOS, json={"title": "Where am I?"}, headers=headers)
        listed = client.get(TODOS, headers=headers)
    root = "https://todos.example.com/base/api/v1/todos/"
    assert created.headers["Location"].startswith(root)
    assert created.get_json()["uri"].startswith(root)
    assert all(link.startswith("<" + root) for link in listed.headers["Link"].split(", "))
    assert "evil.example" not in created.get_data(as_text=True) + listed.headers["Link"]


@pytest.mark.parametrize("url", ["ftp://todos.example.com", "https://", "https://x.example/?a=1"])
def test_an_unusable_public_url_stops_the_start(database, tmp_path, url):
    with pytest.raises(RuntimeError, match="PUBLIC_URL"):
        create_app(make_config(database, tmp_path, PUBLIC_URL=url))


def chunked(client, body: bytes, key: str):
    """POST `body` as a streamed request without Content-Length, as a chunked upload is."""
    return client.post(
        TODOS,
        input_stream=io.BytesIO(body),
        headers={"X-API-KEY": key, "Content-Type": "application/json"},
        environ_overrides={"wsgi.input_terminated": True, "HTTP_TRANSFER_ENCODING": "chunked"},
    )


def test_a_chunked_body_over_the_limit_is_413_and_creates_nothing(client, alice):
    padded = b'{"title": "Padded"}' + b" " * (1024 * 1024 + 100)
    response = chunked(client, padded, alice.key)
    assert response.status_code == 413
    assert response.get_json()["message"]
    assert count(Todo) == 0
    assert chunked(client, b'{"title": "Small"}', alice.key).status_code == 201


def test_a_refused_password_is_never_echoed(client):
    for password in ("hunt3r!", 12345678):
        response = client.post(
            "/api/v1/auth/register", json={"email": "echo@example.com", "password": password}
        )
        assert response.status_code == 400
        assert "too short" in str(response.get_json()) or "type" in str(response.get_json())
        assert str(password) not in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("method", "path", "kwargs"),
    [
        ("post", TODOS, {"json": {"title": "t" * 1_000_000}}),
        ("get", TODOS + "?sort=" + "s" * 10_000, {}),
        ("get", TODOS, {"headers": {"X-Fields": "{" + "f" * 10_000}}),
        ("get", TODOS + "?per_page=" + "9" * 5_000, {}),
    ],
    ids=["title", "sort", "mask", "per_page"],
)
def test_long_values_are_cut_when_quoted(auth_client, method, path, kwargs):
    response = getattr(auth_client, method)(path, **kwargs)
    assert response.status_code == 400
    body = response.get_data(as_text=True)
    assert len(body) < 1_000, body[:200]
    assert response.get_json()["message"]


HUGE_IDS = dict.fromkeys(ONES, 2**31) | {"member": 10**20}


@pytest.mark.parametrize("path", sorted({path for _, path in WITH_IDS}))
@pytest.mark.parametrize("credential", [True, False], ids=["credential", "stranger"])
def test_an_id_no_column_holds_is_a_json_404_for_every_method(client, alice, path, credential):
    """A method a route does not take, with an id past MAX_ID, was an HTML 500: werkzeug
    found the route by method first, and Flask-RESTX's 405 matched it again and failed."""
    headers = alice.headers if credential else {"X-API-KEY": "tdk_nobody"}
    for method in ("get", "post", "put", "patch", "delete"):
        response = getattr(client, method)(url(path, HUGE_IDS), json={}, headers=headers)
        assert response.status_code == 404, (method, response.status_code)
        assert response.is_json and response.get_json()["message"], method
    # An id in range is still the route's: a method it does not take is a JSON 405.
    response = client.post(url("/todos/{todo}"), headers=alice.headers)
    assert response.status_code == 405 and response.get_json()["message"]


@pytest.mark.parametrize("zeros", [1, 2, 30])
def test_an_id_has_one_spelling(auth_client, zeros):
    created = auth_client.post(TODOS, json={"title": "one"}).get_json()["id"]
    assert auth_client.get(f"{TODOS}{created}").status_code == 200
    assert auth_client.get(f"{TODOS}{'0' * zeros}{created}").status_code == 404
