"""The floor: the least a server can do for the benchmarked GETs.

A bare WSGI app that checks the `X-API-KEY` with one indexed lookup and returns the
very bytes the API returned for the same request, recorded by the benchmark beforehand.
`FLOOR_RESPONSES` is a JSON object from request key to body: the key is the path with
its query string, followed by a newline and the `X-Fields` header when the request
sends one (a masked response differs from the unmasked one at the same URL). Run it
under gunicorn with the API's settings, as `bench/run.py` does:

    FLOOR_RESPONSES=recorded.json FLOOR_DATABASE_URL=sqlite:///bench.db \\
        gunicorn -c bench/gunicorn.conf.py -w 2 bench.floor:app
"""

import hashlib
import json
import os
import sqlite3
import threading

_local = threading.local()
_responses = None


def connection():
    """This thread's connection to FLOOR_DATABASE_URL, opened on first use."""
    connection = getattr(_local, "connection", None)
    if connection is None:
        url = os.environ["FLOOR_DATABASE_URL"]
        if url.startswith("sqlite:///"):
            connection = sqlite3.connect(url.removeprefix("sqlite:///"), check_same_thread=False)
            _local.placeholder = "?"
        else:
            import psycopg

            connection = psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"))
            connection.autocommit = True
            _local.placeholder = "%s"
        _local.connection = connection
    return connection


def placeholder() -> str:
    """The driver's parameter marker: ? for sqlite3, %s for psycopg."""
    connection()
    return _local.placeholder


def account(key: str) -> int | None:
    """The id of the account an API key belongs to, or None: one indexed lookup."""
    if not key:
        return None
    digest = hashlib.sha256(key.encode()).hexdigest()
    database = connection()
    query = f"SELECT user_id FROM api_keys WHERE digest = {_local.placeholder}"  # noqa: S608
    row = database.execute(query, (digest,)).fetchone()
    return row[0] if row else None


def use_responses(recorded: dict[str, bytes]) -> None:
    """Answer with these bodies, keyed by path (and "\n" mask), instead of FLOOR_RESPONSES."""
    global _responses
    _responses = recorded


def _load():
    with open(os.environ["FLOOR_RESPONSES"]) as file:
        recorded = json.load(file)
    use_responses({url: body.encode() for url, body in recorded.items()})


def app(environ, start_response):
    if _responses is None:
        _load()
    if account(environ.get("HTTP_X_API_KEY", "")) is None:
        start_response("401 UNAUTHORIZED", [("Content-Type", "application/json")])
        return [b'{"message": "unauthorized"}']
    query = environ.get("QUERY_STRING")
    url = environ["PATH_INFO"] + ("?" + query if query else "")
    mask = environ.get("HTTP_X_FIELDS")
    body = _responses.get(url + "\n" + mask if mask else url)
    if body is None:
        start_response("404 NOT FOUND", [("Content-Type", "application/json")])
        return [b'{"message": "not recorded"}']
    headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    start_response("200 OK", headers)
    return [body]
