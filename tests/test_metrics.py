"""GET /metrics: off by default, for loopback or the token's bearer only, and right."""

import re

import pytest
from sqlalchemy import text

from api.factory import create_app
from models import db
from tests.conftest import make_config, running

TOKEN = "metrics-token-for-tests-0123456789"
ELSEWHERE = {"REMOTE_ADDR": "203.0.113.9"}


@pytest.fixture
def config_overrides():
    return {"METRICS_ENABLED": True, "RATELIMIT_DEFAULT": "5 per minute"}


def sample(body: str, name: str, **labels) -> float | None:
    """The value of one sample in Prometheus text, or None when it is not there."""
    for line in body.splitlines():
        if line.startswith("#"):
            continue
        found = re.fullmatch(r"(\w+)(?:\{(.*)\})? (\S+)", line)
        if found is None or found[1] != name:
            continue
        given = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', found[2] or ""))
        if all(given.get(key) == value for key, value in labels.items()):
            return float(found[3])
    return None


def scrape(client, **kwargs) -> str:
    response = client.get("/metrics", **kwargs)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "text/plain"
    return response.get_data(as_text=True)


def test_requests_are_counted_by_route_template_method_and_status(client, alice):
    with client.login(alice):
        todo = client.post("/api/v1/todos/", json={"title": "Count me"}).get_json()
        client.get(f"/api/v1/todos/{todo['id']}")
        client.get(f"/api/v1/todos/{todo['id']}")
        client.get("/api/v1/todos/999999")
    client.get("/no/such/page/12345")
    body = scrape(client)
    route = "/api/v1/todos/<int:id>"
    assert sample(body, "todos_http_requests_total", route=route, method="GET", status="200") == 2
    assert sample(body, "todos_http_requests_total", route=route, method="GET", status="404") == 1
    assert sample(body, "todos_http_requests_total", route="/api/v1/todos/", status="201") == 1
    # Unknown URLs share one label: a client cannot make up series.
    assert sample(body, "todos_http_requests_total", route="unmatched", status="404") == 1
    assert "12345" not in body
    count = "todos_http_request_duration_seconds_count"
    assert sample(body, count, route=route, method="GET") == 3
    assert sample(body, "todos_http_request_duration_seconds_bucket", route=route, le="+Inf") == 3


def test_rate_limit_refusals_are_counted(client, alice):
    with client.login(alice):
        statuses = [client.get("/api/v1/todos/").status_code for _ in range(7)]
    assert statuses.count(429) == 2
    body = scrape(client)
    assert sample(body, "todos_rate_limit_refusals_total", route="/api/v1/todos/") == 2
    # Scraping is not rate limited.
    assert all(client.get("/metrics").status_code == 200 for _ in range(6))


def test_the_pool_gauge_counts_connections_checked_out(app, client):
    db.session.remove()
    assert sample(scrape(client), "todos_db_pool_connections_in_use") == 0
    with db.engine.connect() as connection:
        connection.execute(text("SELECT 1"))
        assert sample(scrape(client), "todos_db_pool_connections_in_use") == 1
    assert sample(scrape(client), "todos_db_pool_connections_in_use") == 0


def test_another_address_without_a_configured_token_gets_a_json_404(client):
    response = client.get("/metrics", environ_base=ELSEWHERE)
    assert response.status_code == 404
    assert response.is_json and response.get_json()["message"]


@pytest.fixture
def tokened(database, tmp_path):
    config = make_config(database, tmp_path, METRICS_ENABLED=True, METRICS_TOKEN=TOKEN)
    with running(create_app(config)) as app:
        yield app.test_client()


@pytest.mark.parametrize(
    "authorization", [None, "Bearer wrong-token-wrong-token", f"Basic {TOKEN}", "Bearer"]
)
def test_another_address_with_a_wrong_or_no_token_gets_a_json_401(tokened, authorization):
    headers = {"Authorization": authorization} if authorization else {}
    response = tokened.get("/metrics", headers=headers, environ_base=ELSEWHERE)
    assert response.status_code == 401
    assert response.is_json and "METRICS_TOKEN" in response.get_json()["message"]
    assert TOKEN not in response.get_data(as_text=True)
    assert response.headers["WWW-Authenticate"].lower().startswith("bearer")


def test_the_token_lets_another_address_in(tokened):
    body = scrape(tokened, headers={"Authorization": f"Bearer {TOKEN}"}, environ_base=ELSEWHERE)
    assert "todos_http_requests_total" in body


def test_a_non_ascii_token_is_refused_not_an_error(tokened):
    headers = {"Authorization": "Bearer caf\u00e9-token-0123456789"}
    response = tokened.get("/metrics", headers=headers, environ_base=ELSEWHERE)
    assert response.status_code == 401


def test_metrics_are_off_by_default(database, tmp_path):
    with running(create_app(make_config(database, tmp_path))) as app:
        response = app.test_client().get("/metrics")
    assert response.status_code == 404 and response.is_json


def test_a_short_token_stops_the_start(database, tmp_path):
    config = make_config(database, tmp_path, METRICS_ENABLED=True, METRICS_TOKEN="short")
    with pytest.raises(RuntimeError, match="METRICS_TOKEN is too short"):
        create_app(config)


def test_the_spec_leaves_metrics_out(client):
    assert not any("metrics" in path for path in client.get("/api/v1/swagger.json").json["paths"])
