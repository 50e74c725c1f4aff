"""Rate limits with Flask-Limiter: what a request is counted by, and the headers it gets.

Every API request counts against one generous limit (`RATELIMIT_DEFAULT`) shared by all
routes and keyed by the credential it presents, hashed, so counting needs no database
lookup; a request without one is counted by its client address. `POST /auth/login`
and `POST /auth/register` have their own strict limit per client address
(`RATELIMIT_AUTH`) against password guessing. The limiter object itself is in
`api.extensions`.
"""

import hashlib
import logging
import math
import time

import flask_limiter
from flask import current_app, request
from flask_limiter.util import get_remote_address
from limits.storage import MemoryStorage

from api.auth import API_KEY_HEADER, bearer_token

# The health check, the root redirect and the documentation are never limited.
UNLIMITED_ENDPOINTS = frozenset({"index", "health.healthz", "api.root", "api.doc", "api.specs"})

log = logging.getLogger(__name__)


def credential_key() -> str:
    secret = request.headers.get(API_KEY_HEADER) or bearer_token()
    if secret:
        hashed = hashlib.blake2b(secret.encode(), digest_size=16, person=b"ratelimit")
        return "credential:" + hashed.hexdigest()
    return "address:" + get_remote_address()


def client_address() -> str:
    return get_remote_address()


def default_limit() -> str:
    return current_app.config["RATELIMIT_DEFAULT"]


def auth_limit() -> str:
    return current_app.config["RATELIMIT_AUTH"]


def unlimited() -> bool:
    # CORS preflights carry no credential and are answered without any work.
    return request.method == "OPTIONS" or request.endpoint in UNLIMITED_ENDPOINTS


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
    """

    def init_app(self, app) -> None:
        self._key_prefix = app.config.get("RATELIMIT_KEY_PREFIX", "")
        self._storage_options = {}
        # In-process counts: the same storage, without a thread (SweptMemoryStorage).
        in_process = app.config.get("RATELIMIT_STORAGE_URI", "memory://") == "memory://"
        self._storage_uri = "swept-memory://" if in_process else None
        super().init_app(app)
        if self.enabled and app.config.get("RATELIMIT_HEADERS_ENABLED"):
            app.after_request(self.write_headers)

    def write_headers(self, response):
        limit = self.current_limit
        if limit is None:
            return response
        try:
            remaining, reset_at = limit.remaining, limit.reset_at
        except Exception:
            # The storage went away after the check; the limits fail open, so do these.
            log.exception("Rate limit storage unreachable: no rate limit headers")
            return response
        response.headers["X-RateLimit-Limit"] = str(limit.limit.amount)
        response.headers["X-RateLimit-Remaining"] = str(remaining)
        response.headers["X-RateLimit-Reset"] = str(reset_at)
        if response.status_code == 429:
            response.headers["Retry-After"] = str(max(1, math.ceil(reset_at - time.time())))
        return response
