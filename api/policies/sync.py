"""Incremental sync: an `X-Sync-Token` on every synced list, and `?since=<token>`.

A list of todos, of bucket lists or of one bucket list's items answers with a token that
names a position in its stream's change order (`models.sync`). With `?since=<token>` the
same list answers with the rows changed after that position, oldest change first: each
row as a GET shows it (masks apply), and a deleted row as a tombstone,
`{"id": N, "deleted": true}`. The next page is another `since` call, linked as `next`.
Each response hands the token to keep. A page that has more after it hands its last
change's position. The last page hands the stream's position, read before the changes
were, so a change that commits meanwhile comes in the next sync (applying a change twice
is harmless).

A full listing (no `since`) hands the position it started from on every page: its
`next` cursors carry it. So a client that walks the whole list and then syncs with the
token it was handed also gets what changed during the walk.

A token is signed and names the account, the list and the day it was issued: any other
account or list is a 400. It is 410 "full sync required" when it is older than
`SYNC_RETENTION_DAYS`, or when tombstones that came after it were purged, or when the
list's record began again. The token is part of the representation: a list that has not
changed keeps its token, so `If-None-Match` gives 304 while nothing changed.
"""

from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from flask import current_app, request
from flask_restx import abort
from itsdangerous import BadData, URLSafeSerializer
from sqlalchemy import and_, bindparam, event, select
from sqlalchemy.orm import Session, with_expression

from api.policies.authentication import current_user
from api.policies.loaders import fresh, owned
from api.policies.pagination import Listing, carried, link_header
from api.rest.masks import load_options
from models import Member, db
from models.sync import Stream, SyncChange, SyncStream, record_changes

SYNC_HEADER = "X-Sync-Token"
SYNC_HEADERS = {
    SYNC_HEADER: {
        "type": "string",
        "description": "The state of the list this response brings the client to: pass it "
        "back as `since` to get only what changed after it",
    }
}
SINCE_HELP = (
    "A sync token (X-Sync-Token) from an earlier response of this list: lists only the rows "
    "created, changed or deleted since, oldest change first; a deleted row as "
    '{"id": N, "deleted": true}. Combines with per_page and a field mask only.'
)
LISTED = (
    "The page asked for; with `since`, the rows changed since the token, oldest change "
    'first, each as it is now, and a deleted one as `{"id": N, "deleted": true}`'
)
GONE = "Full sync required: the sync token is too old. List again without since."
INVALID = (
    "The sync token is not one this API issued (garbled, truncated or altered): list again "
    "without since and keep that response's X-Sync-Token."
)
DAY = 86_400


class Tombstone(NamedTuple):
    """A deleted row, as a sync shows it."""

    id: int

    def representation(self) -> dict:
        return {"id": self.id, "deleted": True}


class Position(NamedTuple):
    """A place in a stream's change order: the stream's row (0 before it has one) and
    its counter."""

    stream_id: int
    seq: int


def add_since(parser) -> None:
    """Give a list's query parser the `since` argument."""
    parser.add_argument("since", type=str, location="args", help=SINCE_HELP)


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="sync-token")


def today() -> int:
    return int(datetime.now(UTC).timestamp()) // DAY


def issue_token(stream: Stream, position: Position) -> str:
    """The token of `position` in `stream`, for the caller."""
    payload = [current_user().id, stream.key, position.stream_id, position.seq, today()]
    return _serializer().dumps(payload)


def stream_state(stream: Stream) -> tuple[Position, int]:
    """Where `stream` is now, and the position of its last purged tombstone."""
    found = db.session.execute(
        select(SyncStream.id, SyncStream.seq, SyncStream.purged_seq).where(
            SyncStream.key == stream.key
        )
    ).first()
    if found is None:
        return Position(0, 0), 0
    return Position(found.id, found.seq), found.purged_seq


def read_token(token: str, stream: Stream) -> tuple[Position, Position]:
    """The position `token` names in `stream`, and the stream's current one.

    400 when the token is not one this API signed, or was issued to another account or
    for another list; 410 when the client must list everything again (see the module).
    """
    try:
        account, key, stream_id, seq, day = _serializer().loads(token)
        valid = all(isinstance(n, int) for n in (account, stream_id, seq, day))
    except (BadData, TypeError, ValueError):
        valid = False
    if not valid:
        abort(400, INVALID)
    if account != current_user().id:
        abort(400, "The sync token was issued to another account: list again without since.")
    if key != stream.key:
        abort(
            400,
            "The sync token belongs to another list: use the token this list's responses "
            "gave, or list it again without since.",
        )
    current, purged = stream_state(stream)
    too_old = today() - day > current_app.config["SYNC_RETENTION_DAYS"]
    # A position before the last purged tombstone may have missed it; one the stream
    # never reached, or of a stream since deleted and begun again, is of another record.
    known = stream_id in (0, current.stream_id) and purged <= seq <= current.seq
    if too_old or not known:
        abort(410, GONE)
    return Position(current.stream_id, seq), current


def refuse_mixed_arguments(listing: Listing) -> None:
    """400 when a `since` request also asks for a page, a sort or a filter."""
    mixed = sorted(
        name
        for name in request.args
        if name in ("page", "cursor", "sort") or name in listing.filters
    )
    if mixed:
        abort(
            400,
            f"since lists every change in the order they happened, and cannot be combined "
            f"with {', '.join(mixed)}: leave {'them' if len(mixed) > 1 else 'it'} out.",
        )


def synced_page(
    listing: Listing,
    stream: Stream,
    args: dict,
    fields: dict,
    count=None,
    owner: int | None = None,
    **scope,
) -> tuple:
    """The page a list request asks for, as `(rows, 200, headers)`, with its
    `X-Sync-Token`: the changes after `since` when it is given (`changes_page`), else
    `listing`'s page (`Listing.page`), whose cursors carry the position it started from.
    `owner` is the account whose rows are listed when not the caller's (a shared list's
    items are its owner's).
    """
    if args.get("since") is not None:
        refuse_mixed_arguments(listing)
        return changes_page(listing, stream, args, fields, owner, **scope)
    start = carried(args.get("cursor"))
    position = Position(*start) if start else stream_state(stream)[0]
    rows, status, headers = listing.page(
        args, fields, count, carry=list(position), owner=owner, **scope
    )
    headers[SYNC_HEADER] = issue_token(stream, position)
    return rows, status, headers


def changes_page(
    listing: Listing, stream: Stream, args: dict, fields: dict, owner=None, **scope
) -> tuple:
    """The rows of `listing` changed after `args["since"]`, oldest change first, a page
    of `per_page`: one statement reads the changes and their rows, scoped to the caller
    (or `owner`), and for a shared listing to the lists the caller is a member of."""
    since, current = read_token(args["since"], stream)
    entity = listing.entity
    per_page = args["per_page"]
    changes = select(SyncChange.row_id, SyncChange.seq, entity)
    if listing.shared:
        mine = and_(Member.bucket_id == SyncChange.row_id, Member.user_id == current_user().id)
        changes = changes.outerjoin(Member, mine).outerjoin(entity, entity.id == Member.bucket_id)
        changes = changes.options(with_expression(entity.role, Member.role))
    else:
        changes = changes.outerjoin(
            entity, and_(entity.id == SyncChange.row_id, *owned(entity, owner, **scope))
        )
    statement = fresh(
        changes.where(
            SyncChange.stream_id == bindparam("stream"), SyncChange.seq > bindparam("since")
        )
        .order_by(SyncChange.seq)
        .limit(per_page + 1)
    )
    options = load_options(entity, fields, owned)
    if options:
        statement = statement.options(*options)
    found = list(db.session.execute(statement, {"stream": since.stream_id, "since": since.seq}))
    if stream_state(stream)[1] > since.seq:
        # A purge that committed since the token was read took tombstones this page needed.
        abort(410, GONE)
    page = found[:per_page]
    # A change whose row is gone is a deletion, whatever the change was when it was read.
    rows = [row if row is not None else Tombstone(row_id) for row_id, _, row in page]
    last = page[-1].seq if page else since.seq
    headers = {}
    if len(found) > per_page:
        position = Position(current.stream_id, last)
        headers["Link"] = link_header(
            {"next": {"since": issue_token(stream, position)}}, replaced=("since",)
        )
    else:
        position = Position(current.stream_id, max(last, current.seq))
    headers[SYNC_HEADER] = issue_token(stream, position)
    return rows, 200, headers


def marshal_rows(rows: list, marshal_row) -> list:
    """`rows` marshalled by `marshal_row`, a tombstone as itself."""
    return [
        row.representation() if isinstance(row, Tombstone) else marshal_row(row) for row in rows
    ]


@event.listens_for(Session, "before_commit")
def _record_changes(session) -> None:
    """Every commit writes the changes its transaction made into the change record."""
    record_changes(session, timedelta(days=current_app.config["SYNC_RETENTION_DAYS"]))
