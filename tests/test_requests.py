"""Every response carries X-Request-ID and nosniff, and the access log line has the id."""

import base64
import logging

import pytest

from api.factory import create_app
from tests.conftest import make_config

API = "/api/v1"


@pytest.fixture
def config_overrides():
    return {"RATELIMIT_AUTH": "1 per minute"}


def every_kind_of_response(client, alice):
    """(expected status, send) pairs; `send(headers)` makes one kind of response."""
    auth = alice.headers
    login = {"email": alice.email, "password": alice.password}
    todo = client.post(f"{API}/todos/", json={"title": "x"}, headers=auth).get_json()
    url = f"{API}/todos/{todo['id']}"

    def not_modified(h):
        tag = client.get(url, headers=auth).headers["ETag"]
        return client.get(url, headers={**auth, **h, "If-None-Match": tag})

    def key_reused(h):
        keyed = {**auth, **h, "Idempotency-Key": "once"}
        client.post(f"{API}/todos/", json={"title": "a"}, headers=keyed)
        return client.post(f"{API}/todos/", json={"title": "b"}, headers=keyed)

    def too_many(h):
        client.post(f"{API}/auth/login", json=login)
        return client.post(f"{API}/auth/login", json=login, headers=h)

    def too_large(h):
        body = "x" * 2**21
        return client.post(
            f"{API}/auth/register", data=body, content_type="application/json", headers=h
        )

    return [
        (200, lambda h: client.get(url, headers={**auth, **h})),
        (201, lambda h: client.post(f"{API}/todos/", json={"title": "y"}, headers={**auth, **h})),
        (304, not_modified),
        (400, lambda h: client.get(url, headers={**auth, **h, "X-Fields": "{nope"})),
        (401, lambda h: client.get(url, headers=h)),
        (404, lambda h: client.get(f"{API}/todos/999", headers={**auth, **h})),
        (405, lambda h: client.put(f"{API}/todos/", headers={**auth, **h})),
        (412, lambda h: client.delete(url, headers={**auth, **h, "If-Match": '"old"'})),
        (413, too_large),
        (415, lambda h: client.post(f"{API}/todos/", data="x", headers={**auth, **h})),
        (422, key_reused),
        (429, too_many),
        (204, lambda h: client.delete(url, headers={**auth, **h})),
        (302, lambda h: client.get("/", headers=h)),
        (200, lambda h: client.get("/healthz", headers=h)),
        (200, lambda h: client.get(f"{API}/", headers=h)),
        (200, lambda h: client.get(f"{API}/swagger.json", headers=h)),
        (200, lambda h: client.options(f"{API}/todos/", headers=h)),
    ]


def test_every_response_has_a_request_id_and_nosniff(client, alice):
    for number, (status, send) in enumerate(every_kind_of_response(client, alice)):
        request_id = f"req-{number}-{status}"
        response = send({"X-Request-ID": request_id})
        assert response.status_code == status, request_id
        assert response.headers["X-Request-ID"] == request_id
        assert response.headers["X-Content-Type-Options"] == "nosniff", request_id


def test_a_500_has_a_request_id_and_nosniff(tmp_path):
    app = create_app(make_config(None, tmp_path, PROPAGATE_EXCEPTIONS=False))

    def explode():
        raise RuntimeError("kaboom")

    app.add_url_rule("/explode", "explode", explode)
    response = app.test_client().get("/explode", headers={"X-Request-ID": "req-500"})
    assert response.status_code == 500
    assert response.headers["X-Request-ID"] == "req-500"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


class Keep(logging.Handler):
    def __init__(self):
        super().__init__()
        self.records = []

    def emit(self, record):
        self.records.append(record)


@pytest.mark.parametrize(
    "config_overrides",
    [{"LOG_FORMAT": "text", "RATELIMIT_AUTH": "1 per minute"}, {"LOG_FORMAT": "json"}],
    ids=["text", "json"],
)
def test_the_access_log_line_has_the_request_id(auth_client, alice, config_overrides):
    created = auth_client.post(f"{API}/todos/", json={"title": "x"})
    tag = auth_client.get(created.headers["Location"]).headers["ETag"]
    login = {"email": alice.email, "password": alice.password}
    keep = Keep()
    access = logging.getLogger("api.access")
    access.addHandler(keep)
    try:
        auth_client.get("/nope", headers={"X-Request-ID": "trace-404"})
        auth_client.get(
            created.headers["Location"],
            headers={"X-Request-ID": "trace-304", "If-None-Match": tag},
        )
        for attempt in (1, 2):
            auth_client.post(
                f"{API}/auth/login", json=login, headers={"X-Request-ID": f"trace-login-{attempt}"}
            )
    finally:
        access.removeHandler(keep)
    app_handler = logging.getLogger("api").handlers[0]
    lines = [app_handler.format(record) for record in keep.records]
    expected = ["trace-404", "trace-304", "trace-login-1", "trace-login-2"]
    assert len(lines) == len(expected)
    for line, request_id in zip(lines, expected, strict=True):
        assert request_id in line
    if config_overrides["LOG_FORMAT"] == "text":
        assert " 304" in lines[1] and " 429" in lines[3]


@pytest.mark.parametrize(
    "request_options",
    [
        {"headers": {"X-Note": "a\x00b"}},
        {"headers": {"Content-Type": "application/json\x00"}},
        {"query_string": {"q": "a\x00b"}},
        {"query_string": "q=a%00b"},
        {"query_string": {"a\x00": "b"}},
        {"headers": {"Authorization": "Basic " + base64.b64encode(b"me\x00:pw").decode()}},
        {"headers": {"Authorization": "basic " + base64.b64encode(b"me:p\x00w").decode()}},
    ],
    ids=["header", "content-type", "argument", "encoded", "argument name", "user", "password"],
)
def test_nul_anywhere_in_the_request_is_a_400(client, request_options):
    response = client.get("/api/v1/todos/", **request_options)
    assert response.status_code == 400
    assert "NUL" in response.get_json()["message"]


def test_an_escaped_percent_is_not_a_nul(auth_client):
    response = auth_client.get("/api/v1/todos/", query_string="q=%2500")
    assert response.status_code == 200
