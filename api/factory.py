"""The application factory: `create_app(config)` builds the Flask application in named steps."""

import os

from flask import Flask, redirect, url_for
from flask.sessions import SessionInterface
from werkzeug.middleware.proxy_fix import ProxyFix

from api.config import Config, config_from_env
from api.extensions import migrate
from api.plumbing import health
from api.plumbing.bodies import ApiRequest, JsonProvider
from api.plumbing.converters import IdConverter
from api.plumbing.cors import init_cors
from api.plumbing.errors import register_error_handlers
from api.plumbing.hooks import finish_request, start_request
from api.plumbing.log_format import configure_logging
from api.plumbing.metrics import register_metrics
from api.plumbing.public_url import PublicUrl
from api.policies.rate_limits import register_rate_limits
from api.policies.transactions import end_reading
from api.rest import blueprint
from models import db

MIGRATIONS = os.path.join(os.path.dirname(os.path.dirname(__file__)), "migrations")


def create_app(config: Config | None = None) -> Flask:
    """Build the application; `config` defaults to the one `APP_ENV` names."""
    app = Flask("api", instance_relative_config=True)
    load_config(app, config or config_from_env())
    configure_logging(app)
    configure_json(app)
    register_proxy_fix(app)
    # Before the extensions' hooks, so that every response, a 429 too, has a request id.
    register_request_hooks(app)
    register_extensions(app)
    register_converters(app)
    register_blueprints(app)
    register_error_handlers(app)
    return app


def load_config(app: Flask, config: Config) -> None:
    config.validate()
    if not config.SQLALCHEMY_DATABASE_URI:
        os.makedirs(app.instance_path, exist_ok=True)
        config.SQLALCHEMY_DATABASE_URI = "sqlite:///" + os.path.join(app.instance_path, "todos.db")
    app.config.from_object(config)
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = engine_options(app.config)


def engine_options(config) -> dict:
    if config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        options = {}
    else:
        options = {
            "pool_pre_ping": True,
            "pool_size": config["DB_POOL_SIZE"],
            "max_overflow": config["DB_MAX_OVERFLOW"],
        }
    options.update(config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
    return options


def configure_json(app: Flask) -> None:
    app.json = JsonProvider(app)
    app.request_class = ApiRequest
    app.session_interface = NoCookieSession()


class NoCookieSession(SessionInterface):
    """The API keeps no cookie session: none is read from a request or set on a response."""

    def open_session(self, app, request):
        return None  # Flask then uses its null session, which refuses to be written

    def save_session(self, app, session, response):
        pass


def register_proxy_fix(app: Flask) -> None:
    """Behind trusted proxies, take the client's address, scheme and host from them; with
    `PUBLIC_URL`, build absolute URLs on it instead of on the request's host."""
    if app.config["PUBLIC_URL"]:
        app.wsgi_app = PublicUrl(app.wsgi_app, app.config["PUBLIC_URL"])
    hops = app.config["TRUSTED_PROXIES"]
    if hops:
        # Outside PublicUrl: the client's address still comes from the proxies.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops)


def register_request_hooks(app: Flask) -> None:
    app.before_request(start_request)
    app.teardown_request(end_reading)
    app.after_request(finish_request)


def register_extensions(app: Flask) -> None:
    db.init_app(app)
    migrate.init_app(app, db, directory=MIGRATIONS, render_as_batch=True)
    register_rate_limits(app)
    init_cors(app)
    register_metrics(app)


def register_converters(app: Flask) -> None:
    app.url_map.converters["int"] = IdConverter


def register_blueprints(app: Flask) -> None:
    app.register_blueprint(blueprint.blueprint)
    app.register_blueprint(health.blueprint)
    app.add_url_rule("/", "index", lambda: redirect(url_for("api.root")))
