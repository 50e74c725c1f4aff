"""What each layer of a request costs: the benchmark's GETs as in-process WSGI calls.

    .venv/bin/python bench/layers.py [--requests 2000] [--repeats 5]

No server and no network: it seeds a temporary SQLite database (the reader account of
bench/run.py: 10,000 todos, 100 bucket lists of about 10 items), builds the application
in production mode five times (as it is; with the metrics on; with the rate limiter, the
access log or both switched off, all through configuration), and calls it as gunicorn
would, with the same WSGI environ every time. It prints microseconds per request, the
best of `--repeats` runs of `--requests` calls, so the difference between two columns is
what that layer costs.

Three references sit beside the API, called the same way on the same database: the
floor of bench/run.py (checks the API key, returns recorded bytes), a bare Flask app
that does what the floor does through Flask's routing and request objects, and the
reference of bench/run.py (bench/reference.py: bare Flask running the real queries,
with orjson). Under gunicorn, the server adds the same cost to every one of them
(bench/run.py measures that part).
"""

import argparse
import contextlib
import os
import sys
import tempfile
import timeit
from pathlib import Path
from typing import NamedTuple

import run as bench  # bench/run.py: this script's folder comes first on sys.path
from werkzeug.test import EnvironBuilder

LAYERS = {
    "API": {},
    # Counted in files shared by the workers, as `manage.py serve` counts them.
    "metrics on": {"METRICS_ENABLED": "true"},
    "no rate limiter": {"RATELIMIT_ENABLED": "false"},
    "no access log": {"LOG_LEVEL": "WARNING"},
    "neither": {"RATELIMIT_ENABLED": "false", "LOG_LEVEL": "WARNING"},
}


def environ(path: str, key: str, mask: str | None = None) -> dict:
    url, _, query = path.partition("?")
    headers = {"X-API-KEY": key, **({"X-Fields": mask} if mask else {})}
    return EnvironBuilder(
        path=url, query_string=query, headers=headers, base_url=f"http://{bench.HOST}:8000"
    ).get_environ()


def per_request_us(app, env: dict, requests: int, repeats: int) -> float:
    def start_response(status, headers, exc_info=None):
        start_response.status = status

    def call():
        return b"".join(app(dict(env), start_response))

    call()
    if not start_response.status.startswith("200"):
        raise RuntimeError(f"{env['PATH_INFO']} answered {start_response.status}")
    # The access log is written (to stderr, as in production) but not shown.
    with open(os.devnull, "w") as devnull, contextlib.redirect_stderr(devnull):
        best = min(timeit.repeat(call, number=requests, repeat=repeats))
    return best / requests * 1e6


def api_app(database_url: str, overrides: dict):
    """The application as `manage.py serve` builds it, with `overrides` in the environment."""
    saved = dict(os.environ)
    os.environ.update(
        DATABASE_URL=database_url,
        APP_ENV="production",
        SECRET_KEY="layers-" + "x" * 32,
        RATELIMIT_DEFAULT=bench.RATE_LIMIT,
        **overrides,
    )
    try:
        from api.factory import create_app

        return create_app()
    finally:
        os.environ.clear()
        os.environ.update(saved)


def flask_reference(recorded: dict):
    """Bare Flask: the floor's key lookup and recorded bytes, through Flask's request cycle."""
    import floor
    from flask import Flask, Response, request

    app = Flask("reference")

    @app.route("/<path:path>")
    def answer(path):
        if floor.account(request.headers.get("X-API-KEY", "")) is None:
            return {"message": "unauthorized"}, 401
        url = request.full_path.rstrip("?")
        mask = request.headers.get("X-Fields")
        return Response(recorded[url + "\n" + mask if mask else url], mimetype="application/json")

    return app


# The GETs measured, in order: (path, X-Fields mask) by name, once ids are known.
GET_NAMES = (
    "GET /todos/?per_page=20",
    "the same, X-Fields {id,title}",
    "GET /todos/<id>",
    "GET /bucketlists/<id>",
)


class Seeded(NamedTuple):
    url: str  # the SQLite database's URL
    key: str  # the reader account's API key
    app: object  # the API, as `manage.py serve` builds it
    gets: dict  # GET_NAMES -> (path, mask)


def seeded(folder: str) -> Seeded:
    """A database in `folder` seeded with the reader account of bench/run.py, and the API."""
    sys.path.insert(0, str(bench.ROOT))
    url = f"sqlite:///{Path(folder) / 'layers.db'}"
    env = {**os.environ, "DATABASE_URL": url}
    env.pop("APP_ENV", None)
    bench.manage(["db", "upgrade"], env)
    sizes = ["--todos", bench.TODOS, "--buckets", bench.BUCKETS, "--items", bench.BUCKET_ITEMS]
    key = bench.parse_seed(bench.manage(["seed", *map(str, sizes)], env)).key
    app = api_app(url, {})
    with app.app_context():
        from models import Bucket, Todo, db

        todo_id = db.session.scalar(db.select(Todo.id).limit(1))
        bucket_id = db.session.scalar(db.select(Bucket.id).limit(1))
    paths = (
        (f"{bench.API}/todos/?per_page=20", None),
        (f"{bench.API}/todos/?per_page=20", "{id,title}"),
        (f"{bench.API}/todos/{todo_id}", None),
        (f"{bench.API}/bucketlists/{bucket_id}", None),
    )
    return Seeded(url, key, app, dict(zip(GET_NAMES, paths, strict=True)))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000, help="Calls per run (2000).")
    parser.add_argument("--repeats", type=int, default=5, help="Runs; the best counts (5).")
    args = parser.parse_args(argv)
    if args.requests < 1 or args.repeats < 1:
        parser.error("requests and repeats must be positive")

    with tempfile.TemporaryDirectory(prefix="todos-layers-") as folder:
        # Before prometheus_client is first imported: it then keeps its values in files.
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = folder
        url, key, app, gets = seeded(folder)
        environs = {name: environ(path, key, mask) for name, (path, mask) in gets.items()}

        # The references answer with the API's own bytes, recorded here.
        recorded = {}
        client = app.test_client()
        for path, mask in gets.values():
            response = client.get(path, headers={"X-API-KEY": key, "X-Fields": mask or ""})
            recorded[path + "\n" + mask if mask else path] = response.get_data()
        os.environ["FLOOR_DATABASE_URL"] = url
        import floor

        floor.use_responses(recorded)

        def servers():
            # One application at a time: the rate limiter and the loggers are per process.
            for name, overrides in LAYERS.items():
                yield name, api_app(url, overrides)
            yield "floor (bench/floor.py)", floor.app
            yield "bare Flask", flask_reference(recorded)
            from bench import reference

            yield "bare Flask + queries (bench/reference.py)", reference.app

        columns = {}
        for name, server in servers():
            columns[name] = {
                get: per_request_us(server, wsgi, args.requests, args.repeats)
                for get, wsgi in environs.items()
            }

        print(f"Microseconds per request, in process (best of {args.repeats} x {args.requests}):")
        print()
        print("| request | " + " | ".join(columns) + " |")
        print("|---|" + "--:|" * len(columns))
        for get in gets:
            cells = (f"{column[get]:,.0f}" for column in columns.values())
            print(f"| {get} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
