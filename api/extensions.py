"""Flask extensions, created without an app and bound in `create_app`."""

from flask_migrate import Migrate

migrate = Migrate()
