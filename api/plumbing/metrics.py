"""Prometheus metrics at `GET /metrics`: what the API answered, how fast, and what it held.

Off unless `METRICS_ENABLED`. When on:

* `todos_http_requests_total{route, method, status}`: every answered request, by its URL
  rule (`/api/v1/todos/<int:id>`, never the raw path: a client cannot make up labels;
  `unmatched` for URLs no rule matches);
* `todos_http_request_duration_seconds{route, method}`: a latency histogram per route;
* `todos_db_pool_connections_in_use`: connections the workers have checked out of their
  database pools now (pool check-out and check-in events);
* `todos_rate_limit_refusals_total{route}`: requests refused with a 429.

Under `manage.py serve` the figures are gunicorn's workers' together (prometheus_client's
multiprocess mode, its files in `PROMETHEUS_MULTIPROC_DIR`): a worker that exits leaves
its counts behind, so a restart loses none, and stops counting in the pool gauge. Elsewhere
(`manage.py run`, tests) they are the process's own.

`GET /metrics` answers a loopback client, or one sending `Authorization: Bearer
$METRICS_TOKEN`; anyone else gets a JSON 401 when a token is configured, a 404 otherwise.
"""

import hmac
import ipaddress
import os

from flask import Blueprint, Flask, Response, current_app, request
from sqlalchemy import event
from werkzeug.datastructures import WWWAuthenticate
from werkzeug.exceptions import NotFound, Unauthorized

from models import db

# Where each application keeps its `Metrics` (Flask's registry of extension state).
EXTENSION = "metrics"
MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"
UNMATCHED = "unmatched"
# Seconds; most GETs take a few milliseconds, a slow write or a database wait much longer.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

blueprint = Blueprint("metrics", __name__)


class Metrics:
    """One application's metrics, and the Prometheus text that shows them."""

    def __init__(self, app: Flask):
        # Imported here, not at the top: prometheus_client chooses between in-process
        # values and the workers' shared files when it is first imported, which must
        # come after `manage.py serve` has set PROMETHEUS_MULTIPROC_DIR.
        import prometheus_client as prometheus

        self.prometheus = prometheus
        self.multiprocess = bool(os.environ.get(MULTIPROCESS_DIR))
        self.registry = prometheus.CollectorRegistry()
        self.requests = prometheus.Counter(
            "todos_http_requests",
            "Requests answered, by route template, method and status.",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = prometheus.Histogram(
            "todos_http_request_duration_seconds",
            "Time from the first request hook to the response, by route template and method.",
            ["route", "method"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.pool_in_use = prometheus.Gauge(
            "todos_db_pool_connections_in_use",
            "Database connections checked out of the pools of the live processes.",
            multiprocess_mode="livesum",
            registry=self.registry,
        )
        self.rate_limited = prometheus.Counter(
            "todos_rate_limit_refusals",
            "Requests refused with 429 Too Many Requests, by route template.",
            ["route"],
            registry=self.registry,
        )
        with app.app_context():
            engine = db.engine
        event.listen(engine, "checkout", lambda *_: self.pool_in_use.inc())
        event.listen(engine, "checkin", lambda *_: self.pool_in_use.dec())

    def observe(self, response: Response, seconds: float) -> None:
        """Count the current request's `response`, which took `seconds`."""
        rule = request.url_rule
        route = rule.rule if rule is not None else UNMATCHED
        status = response.status_code
        self.requests.labels(route, request.method, str(status)).inc()
        self.latency.labels(route, request.method).observe(seconds)
        if status == 429:
            self.rate_limited.labels(route).inc()

    def exposition(self) -> bytes:
        """The Prometheus text of every process's figures (or this process's own)."""
        if not self.multiprocess:
            return self.prometheus.generate_latest(self.registry)
        from prometheus_client import multiprocess

        registry = self.prometheus.CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return self.prometheus.generate_latest(registry)


def observe(response: Response, seconds: float) -> None:
    """Count `response` in the application's metrics, when they are on."""
    metrics: Metrics | None = current_app.extensions.get(EXTENSION)
    if metrics is not None:
        metrics.observe(response, seconds)


def is_loopback(address: str | None) -> bool:
    try:
        return ipaddress.ip_address(address or "").is_loopback
    except ValueError:
        return False


def check_access() -> None:
    """Let a loopback client or the bearer of `METRICS_TOKEN` in; refuse anyone else."""
    if is_loopback(request.remote_addr):
        return
    expected = current_app.config["METRICS_TOKEN"]
    if not expected:
        raise NotFound()
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    matches = hmac.compare_digest(given.strip().encode(), expected.encode())
    if scheme.lower() != "bearer" or not matches:
        raise Unauthorized(
            "Send the metrics token: 'Authorization: Bearer <METRICS_TOKEN>'.",
            www_authenticate=WWWAuthenticate("bearer", {"realm": "metrics"}),
        )


@blueprint.get("/metrics")
def metrics():
    check_access()
    found: Metrics = current_app.extensions[EXTENSION]
    return Response(found.exposition(), content_type=found.prometheus.CONTENT_TYPE_LATEST)


def register_metrics(app: Flask) -> Metrics | None:
    """With `METRICS_ENABLED`, give `app` its metrics and `GET /metrics`."""
    if not app.config["METRICS_ENABLED"]:
        return None
    found = app.extensions[EXTENSION] = Metrics(app)
    app.register_blueprint(blueprint)
    return found
