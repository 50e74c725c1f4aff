"""Paginated lists: a JSON array, `X-Total-Count` and an RFC 8288 `Link` header.

`page=N` jumps anywhere (OFFSET). The `next`, `prev` and `last` links carry an opaque,
signed cursor instead: the sort key of the row they continue from, so a far page costs
what the first one costs and a walk along `next` sees every row once even while rows
are added.
"""

import math
from collections.abc import Callable
from datetime import datetime
from typing import NamedTuple
from urllib.parse import urlencode

from flask import current_app, request
from flask_restx import inputs, reqparse
from itsdangerous import BadSignature, Serializer, Signer, URLSafeSerializer
from itsdangerous.encoding import base64_encode
from sqlalchemy import bindparam, func, select, tuple_
from werkzeug.exceptions import BadRequest

from api.auth import current_user
from api.caches import BoundedCache
from api.connections import read, read_dicts
from api.masks import Wanted
from api.ownership import owned
from api.urls import base_url

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


class QueryParser(reqparse.RequestParser):
    """A `RequestParser` of query arguments only, which parses a query string once.

    What it returns depends on nothing but the query string, so it is kept per query
    string and a copy is handed out on each request; a query string that fails to parse
    is refused every time it comes, as before.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._parsed = BoundedCache(256)

    def add_argument(self, *args, **kwargs):
        super().add_argument(*args, **kwargs)
        if self.args[-1].location not in ("args", ("args",)):
            raise ValueError(f"{self.args[-1].name}: a QueryParser reads query arguments only")
        self._parsed = BoundedCache(256)
        return self

    def parse_args(self, req=None, strict=False):
        if req is not None or strict:
            return super().parse_args(req, strict)
        query = request.environ.get("QUERY_STRING", "")
        return self.result_class(self._parsed.get(query, super().parse_args))


def list_parser(*sortable: str) -> QueryParser:
    """Query arguments shared by every list: page, per_page, cursor, sort."""
    choices = [order for name in sortable for order in (name, "-" + name)]
    parser = QueryParser(bundle_errors=True)
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


class KeptKeySigner(Signer):
    """itsdangerous' signer, deriving its key from each secret once rather than per token."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._keys: dict = {}

    def derive_key(self, secret_key=None) -> bytes:
        key = self._keys.get(secret_key)
        if key is None:
            key = self._keys[secret_key] = super().derive_key(secret_key)
        return key


class CursorSerializer(URLSafeSerializer):
    """itsdangerous' URL-safe serializer, with less work per cursor; the tokens are the
    same as its own.

    * No attempt to compress the payload: a cursor is a few dozen bytes, which zlib
      never shortens, and the attempt took two thirds of the time to sign one.
    * One signer per salt, made once (itsdangerous makes one per token), which derives
      its key once (`KeptKeySigner`). Signers keep no state between tokens.
    """

    signer = KeptKeySigner

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._signers: dict = {}

    def dump_payload(self, obj) -> bytes:
        return base64_encode(Serializer.dump_payload(self, obj))

    def make_signer(self, salt=None) -> Signer:
        signer = self._signers.get(salt)
        if signer is None:
            signer = self._signers[salt] = super().make_signer(salt)
        return signer


_serializers = BoundedCache(8)


def _serializer() -> URLSafeSerializer:
    secret = current_app.config["SECRET_KEY"]
    return _serializers.get(secret, lambda: CursorSerializer(secret, salt="list-cursor"))


# Tokens of cursors that hold no row values (to the last page), per serializer.
_value_free_tokens = BoundedCache(1024)


def _encode(cursor: Cursor) -> str:
    serializer = _serializer()

    def sign() -> str:
        values = [v.isoformat() if isinstance(v, datetime) else v for v in cursor.values]
        return serializer.dumps([cursor.direction, cursor.page, cursor.sort, values])

    if cursor.values:
        return sign()
    # Every page of a list of one length links to the same last page: signed once.
    return _value_free_tokens.get((id(serializer), cursor), sign, pin=serializer)


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


class Filter(NamedTuple):
    """A list's filter: its condition on a bound parameter, and the value bound to it."""

    condition: Callable  # bound parameter -> SQL condition
    value: Callable = lambda argument: argument  # query argument -> bound value


def escape_like(text: str) -> str:
    """`text` as a LIKE pattern that matches it literally (escape character `/`)."""
    return text.replace("/", "//").replace("%", "/%").replace("_", "/_")


def equal_to(column) -> Filter:
    """A list filter: `column` equals the query argument."""
    return Filter(lambda value: column == value)


def containing(column) -> Filter:
    """A list filter: `column` holds the query argument literally, whatever the case."""
    return Filter(lambda pattern: column.icontains(pattern, escape="/"), escape_like)


class Listing:
    """How the caller's rows of one entity are listed, a page at a time.

    `sortable` maps each sort name to its column; the last one must be the unique id,
    which breaks ties. `filters` maps a query argument to its `Filter`; `scope` names
    further columns a list is confined
    to (the bucket of items). Every statement is built once per shape (sort, filters
    present, columns loaded, kind of page) with bound parameters for the values, so a
    request only binds values: SQLAlchemy keys its compiled-statement cache by the
    statement, and works that key out once per statement object.
    """

    def __init__(self, entity, sortable: dict, filters: dict | None = None, scope=()):
        self.entity = entity
        self.sortable = sortable
        self.filters = filters or {}
        self.scope = tuple(scope)
        self.id_column = list(sortable.values())[-1]
        # Statement shapes: sorts x filters x masks x kinds of page.
        self._statements = BoundedCache(1024)

    def columns(self, sort: str) -> list:
        columns = [self.sortable[sort.lstrip("-")]]
        if columns[0] is not self.id_column:
            columns.append(self.id_column)
        return columns

    def _scoped(self, filters: tuple, *columns):
        criteria = owned(self.entity, self.scope)
        criteria += [self.filters[name].condition(bindparam(name)) for name in filters]
        return select(*columns).where(*criteria)

    def count_statement(self, filters: tuple):
        key = ("count", filters)
        return self._statements.get(key, lambda: self._scoped(filters, func.count()))

    def page_statement(self, kind: str, sort: str, filters: tuple, selected: tuple):
        """`kind`: "offset" (page N), "last", or a cursor's direction, NEXT or PREV.

        The rows hold the `selected` columns, and the sort key the links are made from.
        """

        def build():
            columns = self.columns(sort)
            # Rows come back in list order for "offset" and NEXT, reversed otherwise.
            flip = sort.startswith("-") != (kind in ("last", PREV))
            key_columns = [c for c in columns if not any(c is s for s in selected)]
            stmt = self._scoped(filters, *selected, *key_columns)
            stmt = stmt.order_by(*(c.desc() if flip else c.asc() for c in columns))
            if kind in (NEXT, PREV):
                key = tuple_(*columns)
                bound = tuple_(*(bindparam(f"key{i}", type_=c.type) for i, c in enumerate(columns)))
                stmt = stmt.where(key < bound if flip else key > bound)
            if kind == "offset":
                stmt = stmt.offset(bindparam("offset"))
            return stmt.limit(bindparam("limit"))

        return self._statements.get((kind, sort, filters, id(selected)), build, pin=selected)

    def page(self, args: dict, wanted: Wanted, count: int | None = None, **scope):
        """The page `args` ask for, as `(rows, 200, headers)` for a marshalling decorator.

        `args` are a `list_parser`'s, with this listing's filters; `scope` gives the
        value of each scope column; `wanted` (from `api.masks.load_wanted`), which columns
        and relations to read: the rows are read as dicts (`Wanted.read`). `count` is how
        many rows the unfiltered list holds, when the database keeps that count
        (`models.counts`): with no filter applied, it is the total, and no COUNT runs.
        """
        sort, per_page = args["sort"], args["per_page"]
        filters = tuple(name for name in self.filters if args.get(name) not in (None, ""))
        params = {"owner": current_user().id, **scope}
        params.update((name, self.filters[name].value(args[name])) for name in filters)
        if count is not None and not filters:
            total = count
        else:
            total = read(self.count_statement(filters), params)[0][0]
        last_page = max(1, math.ceil(total / per_page))
        columns = self.columns(sort)
        cursor = _decode(args["cursor"], sort, columns) if args.get("cursor") else None

        def fetch(kind: str, limit: int, **values):
            stmt = self.page_statement(kind, sort, filters, wanted.columns)
            return read_dicts(stmt, {**params, **values, "limit": limit})

        if cursor is None:
            page = args["page"]
            offset = (page - 1) * per_page
            if offset >= total:
                # Past the end, however far: nothing to fetch, and no OFFSET too large
                # for the database's integers.
                rows, has_next = [], False
            else:
                rows = fetch("offset", per_page + 1, offset=offset)
                has_next, rows = len(rows) > per_page, rows[:per_page]
        elif cursor.direction == LAST:
            page = last_page
            size = total - (last_page - 1) * per_page
            rows = fetch("last", size)[::-1] if size else []
            has_next = False
        else:
            page = cursor.page
            forward = cursor.direction == NEXT
            bound = {f"key{i}": value for i, value in enumerate(cursor.values)}
            rows = fetch(cursor.direction, per_page + 1 if forward else per_page, **bound)
            if forward:
                has_next, rows = len(rows) > per_page, rows[:per_page]
            else:
                has_next, rows = True, rows[::-1]

        def key_of(row):
            return tuple(row[column.key] for column in columns)

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
        return wanted.read(rows), 200, headers


def link_header(links: dict) -> str:
    """RFC 8288 links to this list with the given query arguments replaced."""
    kept = _kept_query(request.environ.get("QUERY_STRING", ""))
    base = base_url()
    return ", ".join(
        f'<{base}?{kept}{urlencode(query)}>; rel="{rel}"' for rel, query in links.items()
    )


# The arguments a list's links keep, encoded, per query string.
_kept_queries = BoundedCache(1024)


def _kept_query(query: str) -> str:
    """The query string's arguments other than the page and cursor, encoded and followed
    by `&`, or "" when there are none."""

    def encode() -> str:
        kept = [(k, v) for k, v in request.args.items(multi=True) if k not in ("page", "cursor")]
        return urlencode(kept) + "&" if kept else ""

    return _kept_queries.get(query, encode)
