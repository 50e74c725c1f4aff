"""Paginated lists: a JSON array, `X-Total-Count` and an RFC 8288 `Link` header.

`page=N` jumps anywhere (OFFSET). The `next`, `prev` and `last` links carry an opaque,
signed cursor instead: the sort key of the row they continue from, so a far page costs
what the first one costs (an index on owner, sort key and id answers it) and a walk
along `next` sees every row once even while rows are added.
"""

import math
from collections.abc import Callable
from datetime import datetime
from typing import NamedTuple
from urllib.parse import urlencode

from flask import current_app, request
from flask_restx import inputs, reqparse
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import func, literal, select, tuple_
from werkzeug.exceptions import BadRequest

from api.policies.loaders import fresh, owned
from api.rest.masks import load_options
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
    """Where a link continues: its direction, page number, sort, and the row's sort key."""

    direction: str
    page: int
    sort: str
    values: tuple = ()


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="list-cursor")


def encode_cursor(cursor: Cursor) -> str:
    values = [v.isoformat() if isinstance(v, datetime) else v for v in cursor.values]
    return _serializer().dumps([cursor.direction, cursor.page, cursor.sort, values])


def decode_cursor(token: str, sort: str, columns: list) -> Cursor:
    """The cursor `token` stands for; 400 when it is forged or made for another sort."""
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


class Filter(NamedTuple):
    """A list filter: the SQL condition a query argument's value makes."""

    condition: Callable  # query argument -> SQL condition


def escape_like(text: str) -> str:
    """`text` as a LIKE pattern that matches it literally (escape character `/`)."""
    return text.replace("/", "//").replace("%", "/%").replace("_", "/_")


def equal_to(column) -> Filter:
    """A list filter: `column` equals the query argument."""
    return Filter(lambda value: column == value)


def containing(column) -> Filter:
    """A list filter: `column` holds the query argument literally, whatever the case."""
    return Filter(lambda text: column.icontains(escape_like(text), escape="/"))


class Page(NamedTuple):
    """One page of a list: its rows, and whether a page follows."""

    rows: list
    has_next: bool


class Listing:
    """How the caller's rows of one entity are listed, a page at a time.

    `sortable` maps each sort name to its column; the last one must be the unique id,
    which breaks ties. `filters` maps a query argument to its `Filter`.
    """

    def __init__(self, entity, sortable: dict, filters: dict | None = None):
        self.entity = entity
        self.sortable = sortable
        self.filters = filters or {}
        self.id_column = list(sortable.values())[-1]

    def sort_columns(self, sort: str) -> list:
        """The columns rows are ordered by for `sort`, ending with the unique id."""
        columns = [self.sortable[sort.lstrip("-")]]
        if columns[0] is not self.id_column:
            columns.append(self.id_column)
        return columns

    def page(self, args: dict, fields: dict, count: int | None = None, **scope) -> tuple:
        """The page `args` ask for, as `(rows, 200, headers)` for a marshalling decorator.

        `args` are a `list_parser`'s, with this listing's filters; `scope` gives the
        value of further columns the list is confined to (the bucket of items); `fields`
        (from `api.rest.masks.response_fields`) which columns and relations to load.
        `count` is how many rows the unfiltered list holds when the database keeps that
        count (`models.counts`): with no filter applied no COUNT runs.
        """
        sort, per_page = args["sort"], args["per_page"]
        filtered = [
            self.filters[name].condition(args[name])
            for name in self.filters
            if args.get(name) not in (None, "")
        ]
        criteria = [*owned(self.entity, **scope), *filtered]
        if count is None or filtered:
            counted = select(func.count()).select_from(self.entity).where(*criteria)
            count = db.session.scalar(counted)
        last_page = max(1, math.ceil(count / per_page))
        columns = self.sort_columns(sort)
        descending = sort.startswith("-")
        rows_of = fresh(select(self.entity).where(*criteria)).options(
            *load_options(self.entity, fields, owned)
        )

        def fetch(statement, reverse: bool, limit: int) -> list:
            order = [c.asc() if reverse == descending else c.desc() for c in columns]
            return list(db.session.scalars(statement.order_by(*order).limit(limit)))

        cursor = decode_cursor(args["cursor"], sort, columns) if args.get("cursor") else None
        if cursor is None:
            number = args["page"]
            offset = (number - 1) * per_page
            # Past the end, however far: nothing to fetch, and no OFFSET too large for
            # the database's integers.
            rows = fetch(rows_of.offset(offset), False, per_page + 1) if offset < count else []
            page = Page(rows[:per_page], len(rows) > per_page)
        elif cursor.direction == LAST:
            number = last_page
            size = count - (last_page - 1) * per_page
            page = Page(fetch(rows_of, True, size)[::-1] if size else [], False)
        else:
            number = cursor.page
            key = tuple_(*columns)
            values = zip(columns, cursor.values, strict=True)
            bound = tuple_(*(literal(value, column.type) for column, value in values))
            forward = cursor.direction == NEXT
            after = (key < bound) if forward == descending else (key > bound)
            if forward:
                rows = fetch(rows_of.where(after), False, per_page + 1)
                page = Page(rows[:per_page], len(rows) > per_page)
            else:
                page = Page(fetch(rows_of.where(after), True, per_page)[::-1], True)
        links = self.links(page, number, last_page, sort, columns)
        headers = {"X-Total-Count": str(count), "Link": link_header(links)}
        return page.rows, 200, headers

    @staticmethod
    def links(page: Page, number: int, last_page: int, sort: str, columns: list) -> dict:
        """The query arguments of the `first`, `prev`, `next` and `last` links."""

        def key_of(row) -> tuple:
            return tuple(getattr(row, column.key) for column in columns)

        links = {"first": {"page": 1}}
        if number > 1:
            if page.rows:
                cursor = Cursor(PREV, number - 1, sort, key_of(page.rows[0]))
                links["prev"] = {"cursor": encode_cursor(cursor)}
            else:
                links["prev"] = {"page": min(number - 1, last_page)}
        if page.has_next and page.rows:
            cursor = Cursor(NEXT, number + 1, sort, key_of(page.rows[-1]))
            links["next"] = {"cursor": encode_cursor(cursor)}
        links["last"] = {"cursor": encode_cursor(Cursor(LAST, last_page, sort))}
        return links


def link_header(links: dict) -> str:
    """RFC 8288 links to this list with the given query arguments replaced."""
    kept = [(k, v) for k, v in request.args.items(multi=True) if k not in ("page", "cursor")]
    prefix = urlencode(kept) + "&" if kept else ""
    base = request.base_url
    return ", ".join(
        f'<{base}?{prefix}{urlencode(query)}>; rel="{rel}"' for rel, query in links.items()
    )
