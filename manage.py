"""The command line: `python manage.py --help`."""

import json
import os
import secrets
import time
from datetime import timedelta
from pathlib import Path

import click
import orjson
from flask import current_app
from flask.cli import FlaskGroup, routes_command, shell_command
from flask_migrate import upgrade
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from api.config import DevelopmentConfig, config_from_env
from api.factory import create_app
from api.plumbing.bodies import check_parsed
from api.rest.blueprint import api
from api.rest.resource_models import date_time
from api.tools import backup as backup_tools
from api.tools import openapi as spec_tools
from api.tools import postman as postman_tools
from api.tools import seed as seeding
from models import ApiKey, SyncStream, User, archive, db, refresh_statistics, utcnow
from models.sync import PURGE_BATCH, delete_account, purge_tombstones
from namespaces.archive import check_archive, without_nulls

GUNICORN_CONFIG = os.path.join(os.path.dirname(os.path.abspath(__file__)), "gunicorn.conf.py")


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
    from werkzeug.serving import run_simple

    upgrade()
    refresh_statistics()
    click.echo(f"Swagger UI: http://{host}:{port}/api/v1/")
    app = current_app._get_current_object()
    try:
        backup_tools.hold_for_server(app)
    except backup_tools.BackupError as error:
        raise click.ClickException(str(error)) from None
    run_simple(host, port, app, use_reloader=reload, threaded=True)


def password_method() -> str:
    return current_app.config["PASSWORD_HASH_METHOD"]


def issue_key(user: User, name: str) -> str:
    key, secret = ApiKey.issue(user, name)
    db.session.add(key)
    db.session.commit()
    return secret


def counted(number: int, noun: str) -> str:
    return f"{number:,} {noun}" + ("" if number == 1 else "s")


@cli.command("seed")
@click.option("--users", default=1, show_default=True, type=click.IntRange(1), help="Accounts.")
@click.option("--todos", default=100, show_default=True, type=click.IntRange(0), help="Per user.")
@click.option("--buckets", default=100, show_default=True, type=click.IntRange(0), help="Per user.")
@click.option(
    "--items",
    default=1000,
    show_default=True,
    type=click.IntRange(0),
    help="Per user, spread over the user's buckets.",
)
@click.option("--seed", "seed_value", type=int, help="Draw the same content again.  [default: new]")
def seed(users, todos, buckets, items, seed_value):
    """Add demo accounts, todos and bucket lists, in bulk.

    Applies pending migrations first. Prints the first account's email and password,
    and a new API key for it.
    """
    plan = seeding.Plan(users, todos, buckets, items)
    if plan.items and not plan.buckets:
        raise click.UsageError("--items needs at least one bucket (--buckets 1 or more).")
    if seed_value is None:
        seed_value = secrets.randbelow(2**31)
    upgrade()
    password = secrets.token_urlsafe(12)
    started = time.perf_counter()
    with click.progressbar(length=plan.rows, label="Seeding") as bar:
        accounts = seeding.seed(
            plan, password, seed_value, hash_method=password_method(), progress=bar.update
        )
    elapsed = time.perf_counter() - started
    demo_id, demo_email = accounts[0]
    secret = issue_key(db.session.get(User, demo_id), "seed")
    click.echo(
        f"Added {counted(users, 'account')}, each with {counted(todos, 'todo')}, "
        f"{counted(buckets, 'bucket list')} and {counted(items, 'item')}, "
        f"in {elapsed:.1f} s (seed {seed_value})."
    )
    click.echo(f"Demo login: {demo_email} / {password}")
    if users > 1:
        click.echo(f"The other accounts ({accounts[1][1]} ...) share that password.")
    click.echo(f"API key (shown once): {secret}")


@cli.command("create-user")
@click.argument("email")
@click.password_option(help="Asked for, with confirmation, when not given.")
def create_user(email, password):
    """Create an account, as registration does."""
    try:
        email = User.validated_email(email)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="EMAIL") from None
    if len(password) < User.PASSWORD_MIN_LENGTH:
        raise click.BadParameter(
            f"use {User.PASSWORD_MIN_LENGTH} characters or more.", param_hint="--password"
        )
    account = User(email=email)
    account.set_password(password, password_method())
    db.session.add(account)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise click.ClickException(f"An account with the email {email} already exists.") from None
    click.echo(f"Created account {account.id}: {email}")


def account_id(email: str) -> int:
    """The id of the account with `email`; a usage error when there is none."""
    account = db.session.scalar(select(User.id).where(User.email == User.normalize_email(email)))
    if account is None:
        raise click.ClickException(f"No account has the email {email}.")
    return account


@cli.command("create-key")
@click.argument("email")
@click.option("--name", required=True, help="What the key is for, e.g. the machine using it.")
def create_key(email, name):
    """Create an API key for an account; print its secret, this once."""
    limit = ApiKey.__table__.c.name.type.length
    if not 1 <= len(name) <= limit:
        raise click.BadParameter(f"give 1 to {limit} characters.", param_hint="--name")
    click.echo(issue_key(db.session.get(User, account_id(email)), name))


@cli.command("delete-user")
@click.argument("email")
@click.confirmation_option(prompt="Delete the account and everything it owns, for good?")
def delete_user(email):
    """Delete an account and everything it owns: its todos, keys, and the bucket lists it
    owns (for every member too); it leaves the lists shared with it."""
    account = account_id(email)
    delete_account(db.session, account)
    db.session.commit()
    click.echo(f"Deleted account {account}: {email}")


@cli.command("sync-purge")
@click.option(
    "--days",
    type=click.IntRange(min=0),
    help="Keep tombstones this many days (default: SYNC_RETENTION_DAYS).",
)
def sync_purge(days):
    """Delete the tombstones of incremental sync older than the retention period.

    A sync token issued before a purged tombstone then answers 410 "full sync required".
    Writes purge a bounded batch as they go; this purges all of them, a batch at a time.
    """
    if days is None:
        days = current_app.config["SYNC_RETENTION_DAYS"]
    before = utcnow() - timedelta(days=days)
    streams = list(db.session.scalars(select(SyncStream.id).order_by(SyncStream.id)))
    total = 0
    for stream_id in streams:
        purged = PURGE_BATCH
        while purged == PURGE_BATCH:
            purged = purge_tombstones(db.session, stream_id, before)
            db.session.commit()
            total += purged
    click.echo(f"Purged {counted(total, 'tombstone')} older than {counted(days, 'day')}.")


output_option = click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False, allow_dash=True),
    help="- for stdout.",
)


def write_json(path: str, document: dict) -> None:
    with click.open_file(path, "w", encoding="utf-8") as output:
        output.write(json.dumps(document, indent=2, ensure_ascii=False) + "\n")


@cli.command("export")
@click.argument("email")
@output_option
def export(email, output):
    """Write an account's export: the document GET /auth/me/export streams."""
    account = account_id(email)
    email = User.normalize_email(email)  # as the account stores it, and the API exports it
    started = time.perf_counter()
    rows = archive.export_size(db.session, account)
    with (
        click.progressbar(
            length=rows, label="Exporting", file=click.get_text_stream("stderr")
        ) as bar,
        click.open_file(output, "wb") as written,
    ):
        for chunk in archive.export_chunks(db.engine, account, email, progress=bar.update):
            written.write(chunk)
    click.echo(f"Exported {email} in {time.perf_counter() - started:.1f} s.", err=output == "-")


@cli.command("import")
@click.argument("email")
@click.argument("export_file", type=click.File("rb"))
def import_(email, export_file):
    """Create the content of an export in an account, as POST /auth/me/import does: all of
    it, or on any fault nothing."""
    account = account_id(email)
    try:
        # Parsed as a body is (api.plumbing.bodies): no NUL, nesting within bounds.
        parsed = orjson.loads(export_file.read())
        check_parsed(parsed)
        document = without_nulls(parsed)
    except ValueError as error:
        raise click.ClickException(f"{export_file.name} is not JSON: {error}") from None
    faults = check_archive(document, limited=False)
    if faults:
        listed = "\n".join(f"  {path}: {fault}" for path, fault in faults.items())
        raise click.ClickException(f"{export_file.name} cannot be imported:\n{listed}")
    started = time.perf_counter()
    with click.progressbar(length=archive.archive_size(document), label="Importing") as bar:
        try:
            created = archive.import_archive(
                db.session, account, document, date_time, progress=bar.update
            )
            db.session.commit()
        except BaseException:
            db.session.rollback()
            raise
    elapsed = time.perf_counter() - started
    click.echo(
        f"Imported into {email} in {elapsed:.1f} s: {counted(created['todos'], 'todo')}, "
        f"{counted(created['bucketlists'], 'bucket list')}, {counted(created['items'], 'item')}, "
        f"{counted(created['members'], 'member')} added."
    )
    for skipped in created["members_skipped"]:
        click.echo(f"Not added (no account has this email, or it is this account's): {skipped}")


@cli.command("openapi")
@output_option
@click.option(
    "--openapi",
    "version",
    type=click.Choice(sorted(spec_tools.FORMATS)),
    default="2.0",
    show_default=True,
    help="Swagger 2.0 (as swagger.json serves it) or OpenAPI 3.1 (as openapi.json does).",
)
@click.option(
    "--base-url",
    default=postman_tools.DEFAULT_BASE_URL,
    show_default=True,
    help="OpenAPI 3.1 only: the server's root URL, the document's server before /api/v1.",
)
def openapi(output, version, base_url):
    """Check the spec of the API, then write it."""
    name, _ = spec_tools.FORMATS[version]
    if version == "2.0":
        spec = spec_tools.swagger_spec(api)
    else:
        try:
            spec = spec_tools.openapi31_spec(api, base_url)
        except ValueError as error:
            raise click.ClickException(f"The spec cannot be written as {name}: {error}") from None
    errors = spec_tools.spec_errors(spec, version)
    if errors:
        raise click.ClickException(f"The spec is not valid {name}:\n" + "\n".join(errors))
    write_json(output, spec)
    click.echo(f"Wrote the {name} spec ({len(spec['paths'])} paths) to {output}.", err=True)


@cli.command("postman")
@output_option
@click.option(
    "--base-url",
    default=postman_tools.DEFAULT_BASE_URL,
    show_default=True,
    help="The server's root URL, the collection's {{baseUrl}}.",
)
@click.option(
    "--env-file",
    type=click.Path(dir_okay=False),
    help="Also write a Postman environment with baseUrl and apiKey.",
)
def postman(output, base_url, env_file):
    """Export a Postman v2.1 collection of the API.

    The requests run in order (each resource is created, read, updated, then deleted)
    and pass in Newman against a running server.
    """
    collection = postman_tools.collection(api, base_url)
    write_json(output, collection)
    requests = sum(len(folder["item"]) for folder in collection["item"])
    click.echo(f"Wrote {requests} requests to {output}.", err=True)
    if env_file:
        write_json(env_file, postman_tools.environment(collection))
        click.echo(f"Wrote the environment to {env_file}.", err=True)


def sqlite_database() -> Path:
    try:
        return backup_tools.sqlite_database(current_app.config["SQLALCHEMY_DATABASE_URI"])
    except backup_tools.BackupError as error:
        raise click.ClickException(str(error)) from None


@cli.command("backup")
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The file to write.",
)
@click.option("--force", is_flag=True, help="Replace OUTPUT if it exists.")
def backup(output, force):
    """Copy the SQLite database to OUTPUT while the API runs.

    The copy is one consistent snapshot, checked with PRAGMA integrity_check before it
    takes OUTPUT's name. For PostgreSQL, use pg_dump.
    """
    database = sqlite_database()
    try:
        report = backup_tools.backup(database, output, force=force)
    except backup_tools.BackupError as error:
        raise click.ClickException(str(error)) from None
    click.echo(
        f"Backed up {database} to {report.path}: {report.size:,} bytes in "
        f"{report.seconds:.2f} s; integrity check: {report.integrity}."
    )


@cli.command("restore")
@click.argument("backup_file", type=click.Path(dir_okay=False, path_type=Path))
def restore(backup_file):
    """Replace the SQLite database's content with BACKUP_FILE's.

    Refuses while `serve` or `run` uses the database. Run `db upgrade` afterwards when
    the backup comes from an older version. For PostgreSQL, use pg_restore.
    """
    database = sqlite_database()
    try:
        report = backup_tools.restore(backup_file, database)
    except backup_tools.BackupError as error:
        raise click.ClickException(str(error)) from None
    click.echo(
        f"Restored {database} from {backup_file} in {report.seconds:.2f} s; "
        f"integrity check: {report.integrity}."
    )


@cli.command("serve", with_appcontext=False)
@click.option(
    "-b",
    "--bind",
    multiple=True,
    help="HOST:PORT or unix:PATH to listen on; repeatable.  [default: gunicorn.conf.py's]",
)
@click.option("--host", help="Listen on HOST (default 127.0.0.1) at --port.")
@click.option(
    "--port", type=click.IntRange(1, 65535), help="Listen at PORT (default 8000) on --host."
)
@click.option("-w", "--workers", type=click.IntRange(1), help="Worker processes.")
@click.option("--threads", type=click.IntRange(1), help="Threads per worker.")
@click.option(
    "-c",
    "--config",
    "config_file",
    default=GUNICORN_CONFIG,
    show_default="gunicorn.conf.py beside manage.py",
    type=click.Path(exists=True, dir_okay=False),
    help="gunicorn settings file.",
)
def serve(bind, host, port, workers, threads, config_file):
    """Start the production server (gunicorn).

    It runs the configuration APP_ENV names: production unless told otherwise, so
    SECRET_KEY must be set. It does not migrate: run `db upgrade` first.
    """
    from api.tools.server import GunicornServer, metrics_folder

    try:
        config = config_from_env()
        config.validate()
    except RuntimeError as error:
        raise click.ClickException(str(error)) from None
    if host or port:
        bind = (*bind, f"{host or '127.0.0.1'}:{port or 8000}")
    options = {"bind": list(bind) or None, "workers": workers, "threads": threads}

    def serving_app():
        app = create_app(config)
        backup_tools.hold_for_server(app)
        with app.app_context():
            refresh_statistics()
            db.engine.dispose()  # the master keeps no connection; each worker opens its own
        return app

    with metrics_folder(config.METRICS_ENABLED):
        GunicornServer(serving_app, config_file, options).run()


if __name__ == "__main__":
    cli()
