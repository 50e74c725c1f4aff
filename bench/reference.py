"""A reference between the floor and the API: bare Flask doing the real queries, with orjson.

It answers the four benchmarked GETs the way a minimal hand-written Flask view would:
the floor's key check (one indexed lookup of the key's digest, which also gives the
account), then the same owner-scoped query the API runs, straight through the database
driver, and the rows as JSON with orjson. `X-Fields` only picks top-level columns.

None of the API's behaviour is here: no field URLs or pagination headers, no ETags,
no rate limits, no access log or request id, no validation, no documentation. Its
bodies are therefore not the API's and its ratio is not a target; it shows what Flask
itself and the queries cost on this machine, under the same gunicorn settings:

    FLOOR_DATABASE_URL=sqlite:///bench.db \\
        gunicorn -c bench/gunicorn.conf.py -w 2 bench.reference:app
"""

import orjson
from flask import Flask, Response, abort, request

try:
    from bench import floor
except ImportError:  # run from inside bench/, as bench/layers.py is
    import floor

TODO = ("id", "title", "description", "done", "created_at", "updated_at")
BUCKET = ("id", "name", "description", "created_at", "updated_at")
ITEM = ("id", "name", "description", "done", "created_at", "updated_at")

app = Flask(__name__)


def rows(sql: str, columns: tuple[str, ...], *values) -> list[dict]:
    query = sql.format(columns=", ".join(columns)).replace("?", floor.placeholder())
    cursor = floor.connection().execute(query, values)
    return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


def masked(columns: tuple[str, ...]) -> tuple[str, ...]:
    mask = request.headers.get("X-Fields")
    if not mask:
        return columns
    wanted = {name.strip() for name in mask.strip("{}").split(",")}
    return tuple(column for column in columns if column in wanted)


def json(document) -> Response:
    return Response(orjson.dumps(document), mimetype="application/json")


@app.before_request
def authenticate():
    request.user_id = floor.account(request.headers.get("X-API-KEY", ""))
    if request.user_id is None:
        return json({"message": "unauthorized"}), 401


@app.get("/api/v1/todos/")
def todos():
    size = request.args.get("per_page", 20, type=int)
    sql = "SELECT {columns} FROM todos WHERE user_id = ? ORDER BY id LIMIT ?"
    return json(rows(sql, masked(TODO), request.user_id, size))


@app.get("/api/v1/todos/<int:todo_id>")
def todo(todo_id: int):
    sql = "SELECT {columns} FROM todos WHERE id = ? AND user_id = ?"
    found = rows(sql, masked(TODO), todo_id, request.user_id)
    return json(found[0]) if found else abort(404)


@app.get("/api/v1/bucketlists/<int:bucket_id>")
def bucket(bucket_id: int):
    sql = "SELECT {columns} FROM buckets WHERE id = ? AND user_id = ?"
    found = rows(sql, BUCKET, bucket_id, request.user_id)
    if not found:
        abort(404)
    sql = "SELECT {columns} FROM items WHERE bucket_id = ? AND user_id = ? ORDER BY id"
    found[0]["items"] = rows(sql, ITEM, bucket_id, request.user_id)
    return json(found[0])
