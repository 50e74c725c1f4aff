"""The command line: `python manage.py --help`."""

import os

import click
from flask.cli import FlaskGroup, routes_command, shell_command

from api.app import create_app
from api.config import DevelopmentConfig, config_from_env


def make_app():
    # Commands run against the development defaults unless APP_ENV says otherwise.
    if "APP_ENV" not in os.environ:
        return create_app(DevelopmentConfig())
    return create_app(config_from_env())


cli = FlaskGroup(create_app=make_app, add_default_commands=False, help=__doc__)
cli.add_command(routes_command)
cli.add_command(shell_command)


@cli.command("run")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--reload/--no-reload", default=False, help="Restart when the code changes.")
def run(host, port, reload):
    """Apply pending migrations, then start the development server."""
    from flask import current_app
    from flask_migrate import upgrade
    from werkzeug.serving import run_simple

    upgrade()
    click.echo(f"Swagger UI: http://{host}:{port}/api/v1/")
    app = current_app._get_current_object()
    run_simple(host, port, app, use_reloader=reload, threaded=True)


if __name__ == "__main__":
    cli()
