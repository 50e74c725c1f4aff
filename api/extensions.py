"""Flask extensions, created without an app and bound in `create_app`.

The rate limiter is not among them: each application gets its own, from its own
configuration (`api.policies.rate_limits.register_rate_limits`). `password_guard` is the
route limit of the endpoints that check passwords, for a Resource's `decorators`, and
`password_checked` the same limit for one method.
"""

from flask_cors import CORS
from flask_migrate import Migrate

from api.policies.rate_limits import password_checked, password_guard

__all__ = ["cors", "migrate", "password_checked", "password_guard"]

migrate = Migrate()
cors = CORS()
