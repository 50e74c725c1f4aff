"""Rate limits with Flask-Limiter: what a request is counted by, and the headers it gets.

Every API request counts against one generous limit (`RATELIMIT_DEFAULT`) shared by all
routes and keyed by the credential it presents, hashed, so counting needs no database
lookup; a request without one is counted by its client address. `POST /auth/login`
and `POST /auth/register` have their own strict limit per client address
(`RATELIMIT_AUTH`) against password guessing, instead. The limiter object itself is in
`api.extensions`.
"""

import functools
import hashlib
import logging
import math
import time
from typing import NamedTuple

import flask_limiter
from flask import current_app, g, request
from flask_limiter.util import get_remote_address
from limits import RateLimitItem, parse_many
from limits.storage import MemoryStorage
from limits.strategies import FixedWindowRateLimiter
from werkzeug.exceptions import TooManyRequests

from api.auth import API_KEY_HEADER, bearer_token
from api.requests import header

# The health check, the root redirect and the documentation are never limited.
UNLIMITED_ENDPOINTS = frozenset({"index", "health.healthz", "api.root", "api.doc", "api.specs"})

log = logging.getLogger(__name__)


def credential_key() -> str:
    secret = header(API_KEY_HEADER) or bearer_token()
    if secret:
        hashed = hashlib.blake2b(secret.encode(), digest_size=16, person=b"ratelimit")
        return "credential:" + hashed.hexdigest()
    return "address:" + get_remote_address()


def client_address() -> str:
    return get_remote_address()


def auth_limit() -> str:
    return current_app.config["RATELIMIT_AUTH"]


def unlimited() -> bool:
    # CORS preflights carry no credential and are answered without any work.
    req = request._get_current_object()
    return req.method == "OPTIONS" or req.endpoint in UNLIMITED_ENDPOINTS


def has_own_limit() -> bool:
    """Whether the request's route was given limits of its own with `RateLimiter.own_limit`."""
    view = current_app.view_functions.get(request.endpoint)
    return getattr(view, "own_limit", False)


# The scope of the API-wide limit in the storage's keys: one count across every route.
SHARED_SCOPE = "api"


@functools.lru_cache(maxsize=8)
def parse_limits(text: str) -> tuple[RateLimitItem, ...]:
    """`RATELIMIT_DEFAULT` ("5000 per hour", or several joined by ";"), shortest window first."""
    return tuple(sorted(parse_many(text)))


class SweptMemoryStorage(MemoryStorage):
    """`memory://` without its expiry thread: expired counts are swept by the hits.

    limits' in-memory storage starts a timer thread about 10 ms after a hit to drop
    expired counts; under load that is a new thread every few requests, about a tenth
    of a request's time in the benchmark's profile. Here a count read after its window
    is dropped as it is read (as `MemoryStorage.get` does anyway), and a hit at least
    `SWEEP_SECONDS` after the last sweep runs the storage's own expiry over every key,
    so memory stays bounded by the keys seen within a window.
    """

    STORAGE_SCHEME = ["swept-memory"]
    SWEEP_SECONDS = 1.0

    class _Expiring:
        """Stands in for the timer thread, so the base class never starts one."""

        @staticmethod
        def is_alive() -> bool:
            return True

        @staticmethod
        def cancel() -> None:
            pass

    def __init__(self, uri: str | None = None, **options):
        super().__init__(uri, **options)
        self.timer.cancel()
        self.timer = self._Expiring()
        self._next_sweep = time.monotonic() + self.SWEEP_SECONDS

    def _sweep_when_due(self) -> None:
        now = time.monotonic()
        if now >= self._next_sweep:
            self._next_sweep = now + self.SWEEP_SECONDS
            self._MemoryStorage__expire_events()

    def incr(self, key: str, expiry: float, amount: int = 1) -> int:
        self._sweep_when_due()
        return super().incr(key, expiry, amount)

    def acquire_entry(self, key: str, limit: int, expiry: int, amount: int = 1) -> bool:
        self._sweep_when_due()
        return super().acquire_entry(key, limit, expiry, amount)


class RateLimiter(flask_limiter.Limiter):
    """Flask-Limiter, reading each application's settings and writing the headers itself.

    Flask-Limiter keeps the key prefix and storage options of the first application it
    meets; each `create_app` (one per test, say) must get its own. `memory://` is served
    by `SweptMemoryStorage`. Its own headers
    would put `Retry-After` on every response and stretch a 503's; here it is only on
    429s, and the `X-RateLimit-*` headers on every limited response.

    The API-wide limit is counted by `count_request`: one hit on Flask-Limiter's own
    strategy and storage, under the key Flask-Limiter gives a shared limit. Flask-Limiter's
    own checks run only in the routes that have limits of their own (`own_limit`).
    """

    def init_app(self, app) -> None:
        self._key_prefix = app.config.get("RATELIMIT_KEY_PREFIX", "")
        self._storage_options = {}
        # In-process counts: the same storage, without a thread (SweptMemoryStorage).
        in_process = app.config.get("RATELIMIT_STORAGE_URI", "memory://") == "memory://"
        self._storage_uri = "swept-memory://" if in_process else None
        super().init_app(app)
        # Flask-Limiter's request hook applies application, default and blueprint limits,
        # and the API has none for it: RATELIMIT_DEFAULT is counted by count_request, and
        # a route's own limit (which overrides the defaults) is checked by Flask-Limiter's
        # decorator as the view is called. On every request the hook would only resolve
        # an empty set of limits, about a tenth of a simple GET.
        if self.enabled:
            app.before_request_funcs[None].remove(self._check_request_limit)
            self._only_with_own_limit(app)
            app.before_request(self.count_request)
            if app.config.get("RATELIMIT_HEADERS_ENABLED"):
                app.after_request(self.write_headers)

    def _only_with_own_limit(self, app) -> None:
        """Flask-Limiter's after-request and teardown hooks, for the routes with a limit
        of their own only: they serve its checks (its request context, `deduct_when`),
        and every other request would pay for reading and resetting an empty context."""
        after = app.after_request_funcs[None]
        for index, hook in enumerate(after):
            if getattr(hook, "func", None) is flask_limiter.Limiter._Limiter__inject_headers:
                after[index] = _with_own_limit(hook, passes=True)
        teardown = app.teardown_request_funcs[None]
        for index, hook in enumerate(teardown):
            if hook == self._Limiter__release_context:
                teardown[index] = _with_own_limit(hook)

    def own_limit(self, limit_value, **options):
        """Flask-Limiter's route decorator: the route counts against this limit instead."""
        decorate = self.limit(limit_value, **options)

        def limited(view):
            view = decorate(view)
            view.own_limit = True
            return view

        return limited

    def count_request(self) -> None:
        """Count the request against `RATELIMIT_DEFAULT`; 429 once over it."""
        g.rate_limit = None
        if unlimited() or has_own_limit():
            return
        identifiers = self._identifiers(credential_key())
        try:
            shown = self._hit(parse_limits(current_app.config["RATELIMIT_DEFAULT"]), identifiers)
        except Exception:
            # As with swallow_errors: serve unlimited rather than fail with the storage.
            log.exception("Rate limit storage unreachable: request not counted")
            return
        g.rate_limit = shown
        if shown.breached:
            log.info("rate limit %s exceeded by %s", shown.item, identifiers[-2])
            raise TooManyRequests(str(shown.item))

    def _identifiers(self, key: str) -> tuple[str, ...]:
        prefix = (self._key_prefix,) if self._key_prefix else ()
        return (*prefix, key, SHARED_SCOPE)

    def _hit(self, items: tuple[RateLimitItem, ...], identifiers: tuple) -> "Shown":
        """Hit each limit, shortest window first, up to the first one exceeded; the
        figures of that one, or else of the shortest (as Flask-Limiter's headers show)."""
        strategy = self.limiter
        fixed_window = type(strategy) is FixedWindowRateLimiter
        shown = None
        for item in items:
            if fixed_window:
                # The strategy's own hit, keeping the count it makes: it is the figure the
                # headers show, which would otherwise be read back from the storage (a
                # round trip to Redis) after working out the key twice more.
                key = item.key_for(*identifiers)
                count = strategy.storage.incr(key, item.get_expiry(), amount=1)
                allowed = count <= item.amount
            else:
                key, count = None, None
                allowed = strategy.hit(item, *identifiers)
            if shown is None or not allowed:
                shown = (item, key, count, not allowed)
            if not allowed:
                break
        item, key, count, breached = shown
        if count is None:
            reset_at, remaining = strategy.get_window_stats(item, *identifiers)
        else:
            reset_at, remaining = strategy.storage.get_expiry(key), max(0, item.amount - count)
        return Shown(item, item.amount, remaining, int(reset_at + 1), breached)

    def write_headers(self, response):
        shown = g.get("rate_limit")
        if shown is None and has_own_limit():
            shown = self._own_limit_shown()  # Flask-Limiter checked the route's own limit
        if shown is None:
            return response
        response.headers["X-RateLimit-Limit"] = str(shown.amount)
        response.headers["X-RateLimit-Remaining"] = str(shown.remaining)
        response.headers["X-RateLimit-Reset"] = str(shown.reset_at)
        if response.status_code == 429:
            retry_after = max(1, math.ceil(shown.reset_at - time.time()))
            response.headers["Retry-After"] = str(retry_after)
        return response

    def _own_limit_shown(self) -> "Shown | None":
        limit = self.current_limit
        if limit is None:
            return None
        try:
            reset_at, remaining = limit.reset_at, limit.remaining
        except Exception:
            # The storage went away after the check; the limits fail open, so do these.
            log.exception("Rate limit storage unreachable: no rate limit headers")
            return None
        return Shown(limit.limit, limit.limit.amount, remaining, reset_at, limit.breached)


def _with_own_limit(hook, passes: bool = False):
    """`hook`, run only when the request's route has a limit of its own; otherwise it
    returns its argument when it `passes` one along (an after-request hook)."""

    @functools.wraps(hook)
    def run(value=None):
        if has_own_limit():
            return hook(value)
        return value if passes else None

    return run


class Shown(NamedTuple):
    """The limit a response's `X-RateLimit-*` headers show, read as the request was counted."""

    item: RateLimitItem
    amount: int
    remaining: int
    reset_at: int
    breached: bool
