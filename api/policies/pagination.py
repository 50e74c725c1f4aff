"""Paginated lists: a JSON array, `X-Total-Count` and an RFC 8288 `Link` header.

`page=N` jumps anywhere (OFFSET). The `next`, `prev` and `last` links carry an opaque,
signed cursor instead: the sort key of the row they continue from, so a far page costs
what the first one costs (an index on owner, sort key and id answers it) and a walk
along `next` sees every row once even while rows are added.
"""

import math
from collections.abc import Callable
from datetime import datetime
from functools import lru_cache
from typing import NamedTuple
from urllib.parse import urlencode

from flask import current_app, request
from flask_restx import inputs, reqparse
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import bindparam, func, select, union_all
from sqlalchemy.orm import with_expression
from werkzeug.exceptions import BadRequest

from api.plumbing.converters import MAX_ID
from api.policies.authentication import current_user
from api.policies.loaders import fresh, owned
from api.policies.roles import visible
from api.rest.masks import load_options
from models import Member, db
from models.base import unicode_lower

PER_PAGE = 20
MAX_PER_PAGE = 100
NEXT, PREV, LAST = "n", "p", "l"
# A filtered list counts its rows up to this many: past it the count would cost more than
# the page, so `X-Total-Count` and the `last` link are left out.
COUNT_LIMIT = 1_000
PAGE_HEADERS = {
    "X-Total-Count": {
        "type": "integer",
        "description": "How many rows the whole list has; left out for a filtered list "
        f"of more than {COUNT_LIMIT:,} rows",
    },
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
    """Where a link continues: its direction, page number, sort, the row's sort key, and
    what the walk carries from its first page (see `Listing.page`)."""

    direction: str
    page: int
    sort: str
    values: tuple = ()
    carry: object = None


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="list-cursor")


def encode_cursor(cursor: Cursor) -> str:
    values = [v.isoformat() if isinstance(v, datetime) else v for v in cursor.values]
    return _serializer().dumps([cursor.direction, cursor.page, cursor.sort, values, cursor.carry])


def decode_cursor(token: str, sort: str, columns: list) -> Cursor:
    """The cursor `token` stands for; 400 when it is forged or made for another sort."""
    try:
        direction, page, cursor_sort, values, carry = _serializer().loads(token)
    except (BadSignature, TypeError, ValueError):
        raise BadRequest("The cursor is invalid; follow the links of a list response.") from None
    if cursor_sort != sort:
        raise BadRequest("The cursor belongs to another sort order; start again from page 1.")
    if direction != LAST:
        values = tuple(
            datetime.fromisoformat(value) if column.type.python_type is datetime else value
            for column, value in zip(columns, values, strict=True)
        )
    return Cursor(direction, page, cursor_sort, values, carry)


def carried(token: str | None):
    """What the cursor `token` carries from the first page of its walk (None for no
    cursor, or one that is not valid: `Listing.page` refuses that one)."""
    if not token:
        return None
    try:
        return _serializer().loads(token)[4]
    except (BadSignature, TypeError, ValueError, IndexError, KeyError):
        return None


class Filter(NamedTuple):
    """A list filter: its SQL condition on a bound parameter, the value bound to it, and,
    where the database keeps how many rows match it (`models.counts`), that count."""

    condition: Callable  # bound parameter -> SQL condition
    value: Callable = lambda argument: argument  # query argument -> bound value
    kept_count: Callable | None = None  # bound parameter -> scalar subquery of the count


def escape_like(text: str) -> str:
    """`text` as a LIKE pattern that matches it literally (escape character `/`)."""
    return text.replace("/", "//").replace("%", "/%").replace("_", "/_")


def equal_to(column) -> Filter:
    """A list filter: `column` equals the query argument."""
    return Filter(lambda value: column == value)


def containing(column) -> Filter:
    """A list filter: `column` holds the query argument literally, whatever the case, in
    any language (`models.base.unicode_lower`)."""
    return Filter(
        lambda pattern: unicode_lower(column).contains(pattern, escape="/"),
        lambda text: escape_like(text.lower()),
    )


class Page(NamedTuple):
    """One page of a list: its rows, and whether a page follows."""

    rows: list
    has_next: bool


# The kinds of page statement: page N by OFFSET, the last page, and the pages after and
# before a cursor's row.
OFFSET = "offset"


class Listing:
    """How the caller's rows of one entity are listed, a page at a time.

    `sortable` maps each sort name to its column, or to a pair of columns (the one an
    ascending sort uses, and the one a descending sort uses); the last one must be the
    unique id, which breaks ties. `filters` maps a query argument to its `Filter`; a
    repeatable argument (a list of values) applies its filter once per value, all of
    which must hold. `scope` names further columns a list is confined to (the bucket of
    items); `where` holds conditions every listed row meets.

    With `shared`, the rows are bucket lists, listed through the caller's `Member` rows:
    the sort columns and filters are the members' (which copy their list's sort keys),
    and each row comes with the caller's `role`.
    """

    def __init__(
        self,
        entity,
        sortable: dict,
        filters: dict | None = None,
        scope=(),
        where=(),
        shared: bool = False,
    ):
        self.entity = entity
        self.sortable = sortable
        self.filters = filters or {}
        self.scope = tuple(scope)
        self.where = tuple(where)
        self.shared = shared
        self.id_column = list(sortable.values())[-1]

    def sort_columns(self, sort: str) -> list:
        """The columns rows are ordered by for `sort`, ending with the unique id."""
        column = self.sortable[sort.lstrip("-")]
        if isinstance(column, tuple):
            column = column[1] if sort.startswith("-") else column[0]
        columns = [column]
        if columns[0] is not self.id_column:
            columns.append(self.id_column)
        return columns

    def criteria(self, filters: tuple[str, ...]) -> list:
        """The rows' conditions: the owner (bound as `owner`), the scope columns and the
        `filters` named (each bound under its own name)."""
        owner = (Member if self.shared else self.entity).user_id
        return [
            owner == bindparam("owner"),
            *(getattr(self.entity, name) == bindparam(name) for name in self.scope),
            *self.where,
            *(self.filters[argument(name)].condition(bindparam(name)) for name in filters),
        ]

    def kept_count(self, filters: tuple[str, ...]) -> Callable | None:
        """The count the database keeps of the rows `filters` leave, if it keeps one: for
        one filter value whose `Filter` has a `kept_count`."""
        if len(filters) != 1:
            return None
        return self.filters[argument(filters[0])].kept_count

    def count_statement(self, filters: tuple[str, ...]):
        return statement_of(self, "count", "", filters)

    def page_statement(self, kind: str, sort: str, filters: tuple[str, ...]):
        return statement_of(self, kind, sort, filters)

    def build(self, kind: str, sort: str, filters: tuple[str, ...]):
        """The statement of one shape: the count, or the rows of a `kind` of page in
        `sort` order (reversed for the last page and the one before a cursor), bound to
        `limit`, and to `offset` or the cursor's sort key (`key0`, `key1`)."""
        if kind == "count":
            kept = self.kept_count(filters)
            if kept is not None:
                (name,) = filters
                return select(func.coalesce(kept(bindparam(name)), 0))
            counted = self.criteria(filters)
            if not filters:
                counted_table = Member if self.shared else self.entity
                return select(func.count()).select_from(counted_table).where(*counted)
            # At most `limit` rows: past COUNT_LIMIT, that there are more is enough to know.
            matches = select(self.id_column).where(*counted).limit(bindparam("limit"))
            return select(func.count()).select_from(matches.subquery())
        columns = self.sort_columns(sort)
        flip = sort.startswith("-") != (kind in (LAST, PREV))
        order = [c.desc() if flip else c.asc() for c in columns]
        if kind in (NEXT, PREV):
            criteria = [self.id_column.in_(self.seek(filters, columns, order, flip))]
        else:
            criteria = self.criteria(filters)
        rows = fresh(self.joined(select(self.entity)).where(*criteria)).order_by(*order)
        if kind == OFFSET:
            rows = rows.offset(bindparam("offset"))
        return rows.limit(bindparam("limit"))

    def joined(self, statement):
        """`statement` of the listed rows, joined to the caller's `Member` rows (the
        caller bound as `owner`) with their role when the list is `shared`."""
        if not self.shared:
            return statement
        return statement.join(Member, visible(self.entity, bindparam("owner"))).options(
            with_expression(self.entity.role, Member.role)
        )

    def seek(self, filters: tuple[str, ...], columns: list, order: list, flip: bool):
        """The ids of the first `limit` rows in `order` past a cursor's row, whose sort key
        is bound as `key0` (and `key1`, the id, after a sort column).

        With a sort column, the rows that share the cursor row's value and those past it
        are two parts, each a range of the index on (owner, column, id): one comparison of
        the pair (column, id) is one range for PostgreSQL, but SQLite scans every row of
        that value to find where the pair starts.
        """
        keys = [bindparam(f"key{i}", type_=c.type) for i, c in enumerate(columns)]
        past = (lambda a, b: a < b) if flip else (lambda a, b: a > b)
        rows = select(self.id_column).where(*self.criteria(filters)).order_by(*order)
        limit = bindparam("limit")
        if len(columns) == 1:
            return rows.where(past(columns[0], keys[0])).limit(limit)
        column, id_column = columns
        parts = (
            rows.where(column == keys[0], past(id_column, keys[1])).limit(limit),
            rows.where(past(column, keys[0])).limit(limit),
        )
        # Each part is the caller's already; the ids lead to the rows by primary key.
        return union_all(*(select(part.subquery().c[0]) for part in parts))

    def page(
        self,
        args: dict,
        fields: dict,
        count: int | None = None,
        carry=None,
        owner: int | None = None,
        **scope,
    ) -> tuple:
        """The page `args` ask for, as `(rows, 200, headers)` for a marshalling decorator.

        `args` are a `list_parser`'s, with this listing's filters; `scope` gives the
        value of each scope column; `fields` (from `api.rest.masks.response_fields`)
        which columns and relations to load. `count` is how many rows the unfiltered list
        holds when the database keeps that count (`models.counts`): with no filter
        applied no COUNT runs. The `prev`, `next` and `last` cursors carry `carry` (a
        JSON value), or what the request's cursor carried: the walk's first page's.
        `owner` is the account whose rows are listed, when not the caller (a shared bucket
        list's items are its owner's).
        """
        sort, per_page = args["sort"], args["per_page"]
        given = {name: args[name] for name in self.filters if args.get(name) not in (None, "")}
        values = dict(bound_values(given))
        filters = tuple(values)
        params = {"owner": current_user().id if owner is None else owner, **scope}
        params.update((name, self.filters[argument(name)].value(v)) for name, v in values.items())
        columns = self.sort_columns(sort)
        cursor = decode_cursor(args["cursor"], sort, columns) if args.get("cursor") else None
        if count is None or filters:
            # The last page needs the whole count, and a kept one costs nothing; otherwise
            # count at most COUNT_LIMIT (no list holds more rows than there are ids).
            last = cursor is not None and cursor.direction == LAST
            whole = last or self.kept_count(filters) is not None
            limit = MAX_ID if whole else COUNT_LIMIT + 1
            count = db.session.scalar(self.count_statement(filters), {**params, "limit": limit})
            count = None if count > COUNT_LIMIT and not whole else count
        last_page = None if count is None else max(1, math.ceil(count / per_page))
        options = load_options(self.entity, fields, owned)

        def fetch(kind: str, limit: int, **values) -> list:
            statement = self.page_statement(kind, sort, filters)
            if options:
                statement = statement.options(*options)
            return list(db.session.scalars(statement, {**params, **values, "limit": limit}))

        if cursor is None:
            number = args["page"]
            offset = (number - 1) * per_page
            # Past the end, however far: nothing to fetch, and no OFFSET too large for
            # the database's integers.
            known_past_end = count is not None and offset >= count
            rows = [] if known_past_end else fetch(OFFSET, per_page + 1, offset=offset)
            page = Page(rows[:per_page], len(rows) > per_page)
        elif cursor.direction == LAST:
            number = last_page
            size = count - (last_page - 1) * per_page
            page = Page(fetch(LAST, size)[::-1] if size else [], False)
        else:
            number = cursor.page
            key = {f"key{i}": value for i, value in enumerate(cursor.values)}
            if cursor.direction == NEXT:
                rows = fetch(NEXT, per_page + 1, **key)
                page = Page(rows[:per_page], len(rows) > per_page)
            else:
                page = Page(fetch(PREV, per_page, **key)[::-1], True)
        if cursor is not None:
            carry = cursor.carry
        links = self.links(page, number, last_page, sort, columns, carry)
        headers = {"Link": link_header(links)}
        if count is not None:
            headers["X-Total-Count"] = str(count)
        return page.rows, 200, headers

    @staticmethod
    def links(
        page: Page, number: int, last_page: int | None, sort: str, columns: list, carry
    ) -> dict:
        """The query arguments of the `first`, `prev`, `next` and `last` links (no `last`
        when the count is not known: `last_page` None); each cursor carries `carry`."""

        def key_of(row) -> tuple:
            return tuple(getattr(row, column.key) for column in columns)

        links = {"first": {"page": 1}}
        if number > 1:
            if page.rows:
                cursor = Cursor(PREV, number - 1, sort, key_of(page.rows[0]), carry)
                links["prev"] = {"cursor": encode_cursor(cursor)}
            else:
                links["prev"] = {"page": min(number - 1, last_page or number - 1)}
        if page.has_next and page.rows:
            cursor = Cursor(NEXT, number + 1, sort, key_of(page.rows[-1]), carry)
            links["next"] = {"cursor": encode_cursor(cursor)}
        if last_page is not None:
            links["last"] = {"cursor": encode_cursor(Cursor(LAST, last_page, sort, (), carry))}
        return links


def bound_values(given: dict):
    """(bound name, value) of each filter value: a repeatable argument's values are bound
    as `name.0`, `name.1`, ... in a canonical order, so one statement serves each count."""
    for name, value in given.items():
        if isinstance(value, list):
            for index, each in enumerate(sorted(set(value))):
                yield f"{name}.{index}", each
        else:
            yield name, value


def argument(bound_name: str) -> str:
    """The query argument a bound filter name (see `bound_values`) belongs to."""
    return bound_name.partition(".")[0]


@lru_cache(maxsize=512)
def statement_of(listing: Listing, kind: str, sort: str, filters: tuple[str, ...]):
    """`listing.build(kind, sort, filters)`, built once per shape (a few dozen a listing):
    SQLAlchemy works out a statement's cache key once per statement object, and building
    statements again on every request cost about a tenth of a list GET."""
    return listing.build(kind, sort, filters)


def link_header(links: dict, replaced: tuple[str, ...] = ("page", "cursor")) -> str:
    """RFC 8288 links to this list, each with its query arguments in place of the
    `replaced` ones of this request."""
    kept = [(k, v) for k, v in request.args.items(multi=True) if k not in replaced]
    prefix = urlencode(kept) + "&" if kept else ""
    base = request.base_url
    return ", ".join(
        f'<{base}?{prefix}{urlencode(query)}>; rel="{rel}"' for rel, query in links.items()
    )
