"""Rate limits on Flask-Limiter's public API: what a request is counted by, and what it is told.

* Every API route counts against one limit, `RATELIMIT_DEFAULT` (several windows may be
  joined by ";"), **per account**: all the keys and tokens of an account share one count.
  A request without a valid credential counts against its client address, so guessing
  keys or tokens meets a 429 as guessing passwords does. It is Flask-Limiter's default
  limit, `shared` under one scope, so that every route adds to the same count.
* `password_guard` gives `POST /auth/login` and `POST /auth/register` a route limit of
  their own instead, `RATELIMIT_AUTH` per client address and route; `password_checked`
  puts the same limit on the other operations that check a password (`PATCH` and
  `DELETE /auth/me`), on top of the API-wide one.
* Not limited: the health check, the root redirect, the documentation and CORS
  preflights (`unlimited`, a request filter).
* Limited responses carry `X-RateLimit-Limit`, `-Remaining`, `-Reset` (epoch seconds) and
  the `RateLimit-Policy` and `RateLimit` fields of draft-ietf-httpapi-ratelimit-headers;
  `Retry-After` only on a 429, so another answer's own `Retry-After` (a 503's) is kept.
* Counts live in `RATELIMIT_STORAGE_URI` (`memory://`, or `redis://` to share them between
  processes) under `RATELIMIT_KEY_PREFIX`; when the storage fails, requests are served
  unlimited and Flask-Limiter logs the error (`swallow_errors`).

One `Limiter` per application, from its own config: a reused one keeps the first app's limits.
"""

import functools
import math
import time
from collections.abc import Callable
from typing import NamedTuple

from flask import Flask, current_app, request
from flask.wrappers import Response
from flask_limiter import Limit, Limiter, RouteLimit
from flask_limiter.util import get_remote_address
from limits import RateLimitItem, parse_many

from api.policies.authentication import authenticated

# Where each application keeps its `RateLimits` (Flask's registry of extension state).
EXTENSION = "rate_limits"

# The health check, the metrics, the root redirect and the documentation are never limited.
UNLIMITED_ENDPOINTS = frozenset(
    {
        "index",
        "health.healthz",
        "metrics.metrics",
        "api.root",
        "api.doc",
        "api.specs",
        "api.openapi",
    }
)

# The storage scope of the API-wide limit: one count across every route.
API_SCOPE = "api"

# Set on a view by `password_guard`: the route has its own limit instead of the API-wide one.
OWN_LIMIT = "password_guarded"


def client_address() -> str:
    """The key of a request counted by where it comes from."""
    return "address:" + get_remote_address()


def account_or_address() -> str:
    """The key of the API-wide limit: the request's account, or else its client address."""
    credential = authenticated()
    if credential is None:
        return client_address()
    return f"account:{credential.user.id}"


def unlimited() -> bool:
    """Whether the request is exempt from every limit (Flask-Limiter's request filter)."""
    return request.method == "OPTIONS" or request.endpoint in UNLIMITED_ENDPOINTS


def has_own_limit() -> bool:
    """Whether the request's route has a limit of its own (`password_guard`), which
    replaces the API-wide one."""
    view = current_app.view_functions.get(request.endpoint or "")
    return bool(getattr(view, OWN_LIMIT, False))


class Policy(NamedTuple):
    """One quota policy of a `RateLimit-Policy` field: its name and its limit."""

    name: str
    item: RateLimitItem

    @property
    def field(self) -> str:
        return f'"{self.name}";q={self.item.amount};w={self.item.get_expiry()}'


def policies(name: str, limits: str) -> tuple[Policy, ...]:
    """The policies of a limit string, shortest window first; each is called `name`, or,
    when there are several, `name` and its window in seconds ("default-60")."""
    items = sorted(parse_many(limits))
    if len(items) == 1:
        return (Policy(name, items[0]),)
    return tuple(Policy(f"{name}-{item.get_expiry()}", item) for item in items)


class RateLimits:
    """One application's limiter, the route limit of its password endpoints and the
    policies its headers announce."""

    def __init__(self, app: Flask):
        config = app.config
        self.limiter = Limiter(
            key_func=client_address,
            # RATELIMIT_DEFAULT is also Flask-Limiter's own setting for per-route default
            # limits; given here, it is one count shared by every route, per account.
            default_limits=[
                Limit(
                    config["RATELIMIT_DEFAULT"],
                    key_function=account_or_address,
                    shared=True,
                    scope=API_SCOPE,
                    exempt_when=has_own_limit,
                )
            ],
            # Written by `write_headers`; Flask-Limiter's own would put Retry-After on
            # every response and stretch a 503's.
            headers_enabled=False,
            swallow_errors=True,
        )
        self.limiter.request_filter(unlimited)
        # Reads RATELIMIT_ENABLED, RATELIMIT_STORAGE_URI and RATELIMIT_KEY_PREFIX.
        self.limiter.init_app(app)
        self.password_limit: RouteLimit = self.limiter.limit(
            config["RATELIMIT_AUTH"], key_func=client_address
        )
        self.api_policies = policies("default", config["RATELIMIT_DEFAULT"])
        self.password_policies = policies("auth", config["RATELIMIT_AUTH"])

    @property
    def enabled(self) -> bool:
        return self.limiter.enabled

    def write_headers(self, response: Response) -> Response:
        """The figures of the limit that counted the request (Flask-Limiter's
        `current_limit`: the first one exceeded, or else the one of the shortest window)."""
        limit = self.limiter.current_limit
        if limit is None:
            return response  # not limited, or the storage failed and it was served anyway
        try:
            remaining, reset_at = limit.remaining, limit.reset_at
        except Exception:
            current_app.logger.exception("Rate limit storage unreachable: no rate limit headers")
            return response
        window = limit.limit.get_expiry()
        seconds_left = max(0, math.ceil(reset_at - time.time()))
        announced = self.password_policies if has_own_limit() else self.api_policies
        name = next((p.name for p in announced if p.item == limit.limit), announced[0].name)
        headers = response.headers
        headers["X-RateLimit-Limit"] = str(limit.limit.amount)
        headers["X-RateLimit-Remaining"] = str(remaining)
        headers["X-RateLimit-Reset"] = str(reset_at)
        headers["RateLimit-Policy"] = ", ".join(policy.field for policy in announced)
        headers["RateLimit"] = f'"{name}";r={remaining};t={min(seconds_left, window)}'
        if limit.breached and response.status_code == 429:
            headers["Retry-After"] = str(max(1, seconds_left))
        return response


def register_rate_limits(app: Flask) -> RateLimits:
    """Give `app` its own limiter, configured from `app.config`, and its headers."""
    limits = RateLimits(app)
    app.extensions[EXTENSION] = limits
    if limits.enabled and app.config.get("RATELIMIT_HEADERS_ENABLED", True):
        app.after_request(limits.write_headers)
    return limits


def password_checked(handler: Callable) -> Callable:
    """A decorator: `RATELIMIT_AUTH` per client address on a call of `handler`, a view or
    a method that checks a password, on top of any other limit. The check runs as it is
    called, with the application's own limiter (Flask-Limiter's route limit as a context
    manager)."""

    @functools.wraps(handler)
    def checked(*args, **kwargs):
        limits: RateLimits = current_app.extensions[EXTENSION]
        if not limits.enabled:
            return handler(*args, **kwargs)
        with limits.password_limit:
            return handler(*args, **kwargs)

    return checked


def password_guard(view: Callable) -> Callable:
    """A view decorator (a Resource's `decorators`): `password_checked`, instead of the
    API-wide limit."""
    guarded = password_checked(view)
    setattr(guarded, OWN_LIMIT, True)
    return guarded
