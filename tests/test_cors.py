"""CORS for browser clients: off unless CORS_ORIGINS lists origins."""

import pytest

from api.config import Config
from api.plumbing.cors import ALLOW_HEADERS, EXPOSE_HEADERS

TODOS = "/api/v1/todos/"
ORIGIN = "https://app.example.com"


def header_list(value: str) -> set[str]:
    return {item.strip().lower() for item in value.split(",")}


def preflight(client, origin=ORIGIN):
    return client.options(
        TODOS,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "PATCH",
            "Access-Control-Request-Headers": ", ".join(ALLOW_HEADERS),
        },
    )


def test_cors_is_off_by_default(auth_client):
    assert "Access-Control-Allow-Origin" not in preflight(auth_client).headers
    response = auth_client.get(TODOS, headers={"Origin": ORIGIN})
    assert "Access-Control-Allow-Origin" not in response.headers


@pytest.mark.parametrize("config_overrides", [{"CORS_ORIGINS": [ORIGIN]}])
def test_listed_origins_may_call_with_the_apis_headers(auth_client, config_overrides):
    response = preflight(auth_client)
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert "PATCH" in response.headers["Access-Control-Allow-Methods"]
    allowed = header_list(response.headers["Access-Control-Allow-Headers"])
    assert {name.lower() for name in ALLOW_HEADERS} <= allowed
    assert {"if-match", "if-none-match", "idempotency-key", "x-api-key", "x-fields"} <= allowed
    assert response.headers["Access-Control-Max-Age"]

    got = auth_client.get(TODOS, headers={"Origin": ORIGIN})
    assert got.headers["Access-Control-Allow-Origin"] == ORIGIN
    exposed = header_list(got.headers["Access-Control-Expose-Headers"])
    assert {name.lower() for name in EXPOSE_HEADERS} <= exposed
    assert {"etag", "link", "x-total-count", "x-request-id", "retry-after"} <= exposed


@pytest.mark.parametrize("config_overrides", [{"CORS_ORIGINS": [ORIGIN]}])
def test_errors_are_readable_cross_origin_too(client, config_overrides):
    response = client.get(TODOS, headers={"Origin": ORIGIN})
    assert response.status_code == 401
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN


@pytest.mark.parametrize("config_overrides", [{"CORS_ORIGINS": [ORIGIN]}])
def test_other_origins_are_not_allowed(auth_client, config_overrides):
    other = "https://evil.example.net"
    assert "Access-Control-Allow-Origin" not in preflight(auth_client, other).headers
    response = auth_client.get(TODOS, headers={"Origin": other})
    assert "Access-Control-Allow-Origin" not in response.headers


def test_cors_origins_are_read_from_the_environment(monkeypatch):
    monkeypatch.setenv("CORS_ORIGINS", "https://a.example, https://b.example  https://c.example")
    assert Config().CORS_ORIGINS == ["https://a.example", "https://b.example", "https://c.example"]
    monkeypatch.delenv("CORS_ORIGINS")
    assert Config().CORS_ORIGINS == []
