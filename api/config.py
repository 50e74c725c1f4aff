"""Configuration read from the environment, one class per way of running."""

import os
import re

from api.plumbing.public_url import parse_public_url

# A metrics token is a password: long enough that guessing it is hopeless.
METRICS_TOKEN_MIN = 16


def database_url(url: str | None) -> str | None:
    """Point PostgreSQL URLs at the psycopg 3 driver."""
    if url:
        for scheme in ("postgres://", "postgresql://"):
            if url.startswith(scheme):
                return "postgresql+psycopg://" + url[len(scheme) :]
    return url


def flag(value: str) -> bool:
    return value.strip().lower() in ("1", "true", "yes", "on")


def origins(value: str) -> list[str]:
    """`CORS_ORIGINS`: origins separated by commas or spaces."""
    return [origin for origin in re.split(r"[\s,]+", value) if origin]


class Config:
    """Production settings. Every value can be set by an environment variable."""

    NAME = "production"
    DEBUG = False
    TESTING = False

    def __init__(self, **overrides):
        env = os.environ
        # None means "an SQLite file in the instance folder", resolved by the factory.
        self.SQLALCHEMY_DATABASE_URI = database_url(env.get("DATABASE_URL"))
        self.SECRET_KEY = env.get("SECRET_KEY")
        self.TOKEN_TTL = int(env.get("TOKEN_TTL", 24 * 3600))
        self.MAX_CONTENT_LENGTH = int(env.get("MAX_CONTENT_LENGTH", 1024 * 1024))
        # POST /auth/me/import takes a whole account's export (100,000 todos: some 30 MB).
        self.MAX_IMPORT_LENGTH = int(env.get("MAX_IMPORT_LENGTH", 64 * 1024 * 1024))
        self.LOG_LEVEL = env.get("LOG_LEVEL", "INFO").upper()
        self.LOG_FORMAT = env.get("LOG_FORMAT", "text")
        self.DB_POOL_SIZE = int(env.get("DB_POOL_SIZE", 5))
        self.DB_MAX_OVERFLOW = int(env.get("DB_MAX_OVERFLOW", 10))
        self.RESTX_MASK_HEADER = "X-Fields"
        self.RESTX_MASK_SWAGGER = True
        self.RESTX_ERROR_404_HELP = False
        self.SWAGGER_UI_DOC_EXPANSION = "list"
        self.SWAGGER_UI_REQUEST_DURATION = True
        self.SWAGGER_UI_PERSIST_AUTHORIZATION = True
        self.SQLALCHEMY_RECORD_QUERIES = False
        self.PASSWORD_HASH_METHOD = env.get("PASSWORD_HASH_METHOD", "scrypt")
        # Rate limits (Flask-Limiter). Memory storage counts per process; a
        # redis:// URI makes every process share the counts.
        # How many reverse proxies in front of the app set X-Forwarded-* (0: trust none).
        self.TRUSTED_PROXIES = int(env.get("TRUSTED_PROXIES", 0))
        # The root of every absolute URL, e.g. https://api.example.com; None: the request's.
        self.PUBLIC_URL = env.get("PUBLIC_URL") or None
        self.RATELIMIT_ENABLED = flag(env.get("RATELIMIT_ENABLED", "true"))
        self.RATELIMIT_DEFAULT = env.get("RATELIMIT_DEFAULT", "5000 per hour")
        self.RATELIMIT_AUTH = env.get("RATELIMIT_AUTH", "10 per minute")
        self.RATELIMIT_STORAGE_URI = env.get("RATELIMIT_STORAGE_URI", "memory://")
        self.RATELIMIT_KEY_PREFIX = env.get("RATELIMIT_KEY_PREFIX", "todos-api")
        self.RATELIMIT_HEADERS_ENABLED = True
        self.IDEMPOTENCY_TTL = int(env.get("IDEMPOTENCY_TTL", 24 * 3600))
        # Incremental sync: how long tombstones are kept, and a sync token stays usable.
        self.SYNC_RETENTION_DAYS = int(env.get("SYNC_RETENTION_DAYS", 30))
        self.CORS_ORIGINS = origins(env.get("CORS_ORIGINS", ""))
        # GET /metrics (api.plumbing.metrics): off by default; loopback or this token only.
        self.METRICS_ENABLED = flag(env.get("METRICS_ENABLED", "false"))
        self.METRICS_TOKEN = env.get("METRICS_TOKEN") or None
        # Errors become JSON responses; tracebacks go to the log, never to a client.
        self.PROPAGATE_EXCEPTIONS = False
        for key, value in overrides.items():
            setattr(self, key, value)

    def validate(self) -> None:
        if not self.SECRET_KEY:
            raise RuntimeError(
                "SECRET_KEY is not set. Set it in the environment before starting "
                f"the API in {self.NAME} mode."
            )
        if self.PUBLIC_URL:
            try:
                parse_public_url(self.PUBLIC_URL)
            except ValueError as error:
                raise RuntimeError(f"{error}: {self.PUBLIC_URL!r}") from None
        if self.METRICS_TOKEN is not None and len(self.METRICS_TOKEN) < METRICS_TOKEN_MIN:
            raise RuntimeError(
                f"METRICS_TOKEN is too short: use {METRICS_TOKEN_MIN} characters or more "
                "(e.g. python3 -c 'import secrets; print(secrets.token_urlsafe(32))')."
            )


class DevelopmentConfig(Config):
    """`manage.py run`: the local server on the embedded SQLite default."""

    NAME = "development"

    def __init__(self, **overrides):
        super().__init__(**overrides)
        self.SECRET_KEY = self.SECRET_KEY or "development-only-secret"


class TestingConfig(Config):
    """The test suite: an isolated database chosen by the fixtures."""

    NAME = "testing"
    TESTING = True

    def __init__(self, **overrides):
        overrides.setdefault("SECRET_KEY", "testing-secret")
        overrides.setdefault("SQLALCHEMY_DATABASE_URI", "sqlite://")
        # Let unexpected exceptions reach the test that caused them.
        overrides.setdefault("PROPAGATE_EXCEPTIONS", None)
        # A cheap hash keeps the suite fast; production uses scrypt.
        overrides.setdefault("PASSWORD_HASH_METHOD", "pbkdf2:sha256:1000")
        super().__init__(**overrides)


CONFIGS = {cls.NAME: cls for cls in (Config, DevelopmentConfig, TestingConfig)}


def config_from_env() -> Config:
    """The configuration named by `APP_ENV` (production unless told otherwise)."""
    name = os.environ.get("APP_ENV", "production")
    try:
        return CONFIGS[name]()
    except KeyError:
        raise RuntimeError(f"APP_ENV must be one of {', '.join(CONFIGS)}, not {name!r}") from None
