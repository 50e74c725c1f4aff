"""Cross-origin requests from browsers: off unless `CORS_ORIGINS` lists origins."""

from api.extensions import cors

ALLOW_HEADERS = [
    "X-API-KEY",
    "Authorization",
    "Content-Type",
    "X-Fields",
    "If-Match",
    "If-None-Match",
    "Idempotency-Key",
    "X-Request-ID",
]
EXPOSE_HEADERS = [
    "ETag",
    "Link",
    "X-Total-Count",
    "X-Request-ID",
    "Location",
    "Retry-After",
    "X-RateLimit-Limit",
    "X-RateLimit-Remaining",
    "X-RateLimit-Reset",
    "RateLimit",
    "RateLimit-Policy",
    "Idempotent-Replayed",
]
PREFLIGHT_MAX_AGE = 600


def init_cors(app) -> None:
    origins = app.config["CORS_ORIGINS"]
    if not origins:
        return
    cors.init_app(
        app,
        resources={r"/api/*": {"origins": origins}},
        allow_headers=ALLOW_HEADERS,
        expose_headers=EXPOSE_HEADERS,
        max_age=PREFLIGHT_MAX_AGE,
    )
