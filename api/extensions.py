"""Flask extensions, created without an app and bound in `create_app`."""

from flask_cors import CORS
from flask_limiter import Limit
from flask_migrate import Migrate

from api.ratelimits import (
    RateLimiter,
    auth_limit,
    client_address,
    credential_key,
    default_limit,
    unlimited,
)

migrate = Migrate()
cors = CORS()
limiter = RateLimiter(
    key_func=credential_key,
    # One counter per credential across every route, not one per route.
    default_limits=[Limit(default_limit, shared=True, scope="api")],
    # Written by RateLimiter.write_headers instead.
    headers_enabled=False,
    # When the storage (Redis) is down, serve unlimited rather than fail.
    swallow_errors=True,
)
limiter.request_filter(unlimited)

# For the endpoints that check passwords: strict, per client address, instead of the default.
password_guard = limiter.limit(auth_limit, key_func=client_address)
