"""The command line, through click's test runner."""

import manage
from models import db


def test_routes(runner):
    result = runner.invoke(manage.cli, args=["routes"])
    assert result.exit_code == 0
    assert "/api/v1/todos/" in result.output
    assert "/healthz" in result.output


def test_run_applies_migrations_then_serves(runner, app, monkeypatch):
    served = {}

    def fake_run_simple(host, port, application, **options):
        served.update(host=host, port=port, app=application)

    monkeypatch.setattr("werkzeug.serving.run_simple", fake_run_simple)
    db.drop_all()
    result = runner.invoke(manage.cli, args=["run", "--port", "5999"])
    assert result.exit_code == 0, result.output
    assert served == {"host": "127.0.0.1", "port": 5999, "app": app}
    from sqlalchemy import inspect

    assert {"users", "todos", "alembic_version"} <= set(inspect(db.engine).get_table_names())


def test_cli_uses_development_defaults(monkeypatch, tmp_path):
    monkeypatch.delenv("APP_ENV", raising=False)
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/dev.db")
    app = manage.make_app()
    assert app.config["SECRET_KEY"]
    assert not app.testing
