"""Flask extensions, created without an app and bound in `create_app`."""

from flask_cors import CORS
from flask_migrate import Migrate

from api.ratelimits import RateLimiter, auth_limit, client_address, unlimited

migrate = Migrate()
cors = CORS()
limiter = RateLimiter(
    key_func=client_address,
    # RATELIMIT_DEFAULT, one count per credential across every route, is counted by
    # RateLimiter.count_request; Flask-Limiter checks the routes with limits of their own.
    default_limits=[],
    # Written by RateLimiter.write_headers instead.
    headers_enabled=False,
    # When the storage (Redis) is down, serve unlimited rather than fail.
    swallow_errors=True,
)
limiter.request_filter(unlimited)

# For the endpoints that check passwords: strict, per client address, instead of the default.
password_guard = limiter.own_limit(auth_limit, key_func=client_address)
