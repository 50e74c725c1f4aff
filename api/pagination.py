"""Paginated lists: a JSON array, `X-Total-Count` and an RFC 8288 `Link` header.

`page=N` jumps anywhere (OFFSET). The `next`, `prev` and `last` links carry an opaque,
signed cursor instead: the sort key of the row they continue from, so a far page costs
what the first one costs and a walk along `next` sees every row once even while rows
are added.
"""

import math
from datetime import datetime
from typing import NamedTuple
from urllib.parse import urlencode

from flask import current_app, request
from flask_restx import inputs, reqparse
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import func, literal, tuple_
from werkzeug.exceptions import BadRequest

from models import db

PER_PAGE = 20
MAX_PER_PAGE = 100
NEXT, PREV, LAST = "n", "p", "l"
PAGE_HEADERS = {
    "X-Total-Count": {"type": "integer", "description": "How many rows the whole list has"},
    "Link": {
        "type": "string",
        "description": "RFC 8288 links to the `first`, `prev`, `next` and `last` pages",
    },
}


def list_parser(*sortable: str) -> reqparse.RequestParser:
    """Query arguments shared by every list: page, per_page, cursor, sort."""
    choices = [order for name in sortable for order in (name, "-" + name)]
    parser = reqparse.RequestParser(bundle_errors=True)
    parser.add_argument(
        "page",
        type=inputs.positive,
        default=1,
        location="args",
        help="Page number, from 1 (default 1).",
    )
    parser.add_argument(
        "per_page",
        type=inputs.int_range(1, MAX_PER_PAGE),
        default=PER_PAGE,
        location="args",
        help=f"Items per page, 1..{MAX_PER_PAGE} (default {PER_PAGE}).",
    )
    parser.add_argument(
        "cursor",
        type=str,
        location="args",
        help="Opaque continuation token taken from a `Link` header; overrides `page`.",
    )
    parser.add_argument(
        "sort",
        choices=choices,
        default=choices[0],
        location="args",
        help="Sort key; a leading `-` sorts descending.",
    )
    return parser


class Cursor(NamedTuple):
    direction: str
    page: int
    sort: str
    values: tuple = ()


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="list-cursor")


def _encode(cursor: Cursor) -> str:
    values = [v.isoformat() if isinstance(v, datetime) else v for v in cursor.values]
    return _serializer().dumps([cursor.direction, cursor.page, cursor.sort, values])


def _decode(token: str, sort: str, columns) -> Cursor:
    try:
        direction, page, cursor_sort, values = _serializer().loads(token)
    except (BadSignature, TypeError, ValueError):
        raise BadRequest("The cursor is invalid; follow the links of a list response.") from None
    if cursor_sort != sort:
        raise BadRequest("The cursor belongs to another sort order; start again from page 1.")
    if direction != LAST:
        values = tuple(
            datetime.fromisoformat(value) if column.type.python_type is datetime else value
            for column, value in zip(columns, values, strict=True)
        )
    return Cursor(direction, page, cursor_sort, values)


def paginate(stmt, args: dict, sortable: dict, options=(), total=None):
    """Run `stmt` (already scoped by owner and filtered) as the page the request asks for.

    `sortable` maps each sort name to its column; the last one must be the unique id,
    which breaks ties. Returns `(rows, 200, headers)` for a marshalling decorator.
    """
    sort, per_page = args["sort"], args["per_page"]
    descending = sort.startswith("-")
    id_column = list(sortable.values())[-1]
    columns = [sortable[sort.lstrip("-")]]
    if columns[0] is not id_column:
        columns.append(id_column)

    if total is None:
        total = db.session.scalar(stmt.with_only_columns(func.count()).order_by(None))
    last_page = max(1, math.ceil(total / per_page))
    cursor = _decode(args["cursor"], sort, columns) if args.get("cursor") else None

    def ordered(reverse: bool):
        flip = descending != reverse
        return stmt.options(*options).order_by(*(c.desc() if flip else c.asc() for c in columns))

    if cursor is None:
        page = args["page"]
        offset = (page - 1) * per_page
        if offset >= total:
            # Past the end, however far: nothing to fetch, and no OFFSET too large for
            # the database's integers.
            rows, has_next = [], False
        else:
            rows = db.session.scalars(ordered(False).offset(offset).limit(per_page + 1)).all()
            has_next, rows = len(rows) > per_page, rows[:per_page]
    elif cursor.direction == LAST:
        page = last_page
        size = total - (last_page - 1) * per_page
        rows = db.session.scalars(ordered(True).limit(size)).all()[::-1] if size else []
        has_next = False
    else:
        page = cursor.page
        key = tuple_(*columns)
        bound = tuple_(*(literal(v, c.type) for c, v in zip(columns, cursor.values, strict=True)))
        forward = cursor.direction == NEXT
        beyond = key < bound if descending == forward else key > bound
        limit = per_page + 1 if forward else per_page
        rows = db.session.scalars(ordered(not forward).where(beyond).limit(limit)).all()
        if forward:
            has_next, rows = len(rows) > per_page, rows[:per_page]
        else:
            has_next, rows = True, rows[::-1]

    def key_of(row):
        return tuple(getattr(row, column.key) for column in columns)

    links = {"first": {"page": 1}}
    if page > 1:
        if rows:
            links["prev"] = {"cursor": _encode(Cursor(PREV, page - 1, sort, key_of(rows[0])))}
        else:
            links["prev"] = {"page": min(page - 1, last_page)}
    if has_next and rows:
        links["next"] = {"cursor": _encode(Cursor(NEXT, page + 1, sort, key_of(rows[-1])))}
    links["last"] = {"cursor": _encode(Cursor(LAST, last_page, sort))}
    headers = {"X-Total-Count": str(total), "Link": link_header(links)}
    return rows, 200, headers


def link_header(links: dict) -> str:
    """RFC 8288 links to this list with the given query arguments replaced."""
    kept = [(k, v) for k, v in request.args.items(multi=True) if k not in ("page", "cursor")]
    base = request.base_url
    return ", ".join(
        f'<{base}?{urlencode(kept + list(query.items()))}>; rel="{rel}"'
        for rel, query in links.items()
    )
