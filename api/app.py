"""The application factory."""

import inspect
import os

from flask import Flask, redirect, url_for
from flask.sessions import SessionInterface
from werkzeug.middleware.proxy_fix import ProxyFix

from api import health, rest
from api.config import Config, config_from_env
from api.connections import release_read_connection
from api.converters import IdConverter
from api.cors import init_cors
from api.errors import register_error_handlers
from api.extensions import limiter, migrate
from api.logs import configure_logging
from api.representation import ApiRequest, JsonProvider
from api.requests import finish_request, start_request
from models import db

MIGRATIONS = os.path.join(os.path.dirname(os.path.dirname(__file__)), "migrations")


def create_app(config: Config | None = None) -> Flask:
    """Build the application; `config` defaults to the one `APP_ENV` names."""
    app = ApiFlask("api", instance_relative_config=True)
    load_config(app, config or config_from_env())
    configure_logging(app)
    configure_json(app)
    # Before the extensions' hooks, so that every response, a 429 too, has a request id.
    register_proxy_fix(app)
    register_request_hooks(app)
    register_extensions(app)
    register_converters(app)
    register_blueprints(app)
    register_error_handlers(app)
    return app


class ApiFlask(Flask):
    """Flask, asking once per function whether it is a coroutine function.

    Flask asks it of every hook and view on every request, about a dozen times, to
    run `async def` ones in an event loop; the answer never changes.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._is_coroutine: dict = {}

    def ensure_sync(self, func):
        # A view's bound method is new on every request; its function is not.
        key = getattr(func, "__func__", func)
        is_coroutine = self._is_coroutine.get(key)
        if is_coroutine is None:
            is_coroutine = self._is_coroutine[key] = inspect.iscoroutinefunction(func)
        return self.async_to_sync(func) if is_coroutine else func


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
    """The API keeps no cookie session: none is read from a request or set on a response.

    Flask's default would build a signing serializer on every request to look for one.
    """

    def open_session(self, app, request):
        return None  # Flask then uses its null session, which refuses to be written

    def save_session(self, app, session, response):
        pass


def register_extensions(app: Flask) -> None:
    db.init_app(app)
    migrate.init_app(app, db, directory=MIGRATIONS, render_as_batch=True)
    limiter.init_app(app)
    init_cors(app)


def register_proxy_fix(app: Flask) -> None:
    """Behind trusted proxies, take the client's address, scheme and host from them."""
    hops = app.config["TRUSTED_PROXIES"]
    if hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops)


def register_request_hooks(app: Flask) -> None:
    app.before_request(start_request)
    app.after_request(finish_request)
    app.teardown_request(release_read_connection)


def register_converters(app: Flask) -> None:
    app.url_map.converters["int"] = IdConverter


def register_blueprints(app: Flask) -> None:
    app.register_blueprint(rest.blueprint)
    app.register_blueprint(health.blueprint)
    app.add_url_rule("/", "index", lambda: redirect(url_for("api.root")))
