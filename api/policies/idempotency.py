"""`Idempotency-Key` on POST: a retry replays the first response and creates nothing.

The first request with a key claims it by inserting a row, unique per account and key,
and committing at once; a concurrent duplicate cannot insert the same row, so exactly
one request runs. When it succeeds its response (status, body, `Location`) is stored
on that row, uncommitted: the resource commits it with what the request created
(`api.rest.resource`), so a process that dies in between leaves neither, and the claim
is taken over by a retry once abandoned. The response is replayed to every retry with
the same key and the same request for `IDEMPOTENCY_TTL` seconds. The rows live in the
database, so every process agrees.
"""

import hashlib
import logging
import re
from datetime import timedelta

import orjson
from flask import current_app, request
from flask.wrappers import Response
from flask_restx.utils import unpack
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from werkzeug.exceptions import BadRequest, Conflict, UnprocessableEntity

from api.rest.masks import FIELDS_PARAM, requested_mask
from models import IdempotencyKey, db, utcnow

IDEMPOTENCY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
_VALID_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")
# A claim that has had no response for this long belongs to a request that died.
ABANDONED_AFTER = timedelta(seconds=60)
# Expired rows removed per new claim: bounded work on each request, none left behind.
PURGE_BATCH = 100
CLAIM_ATTEMPTS = 3

IDEMPOTENCY_PARAM = {
    "in": "header",
    "type": "string",
    "minLength": 1,
    "maxLength": 255,
    "pattern": "^[!-~]+$",  # visible ASCII, as `idempotent` checks
    "description": (
        "Any unique string (up to 255 characters) chosen by the client: a retry with the "
        "same key and body replays the first response instead of creating again."
    ),
}
KEY_REUSED = "Idempotency-Key already used with a different request"
IN_PROGRESS = "A request with this Idempotency-Key is still in progress"

log = logging.getLogger(__name__)


def idempotent(run, user_id: int, *, secret: bool = False):
    """Run the POST handler `run` at most once per `Idempotency-Key` of account `user_id`.

    Returns `run()`'s result, or the stored response of the first run with the same key
    (422 when the key came with another request, 409 while that one still runs). The
    stored response is left for the caller to commit with what `run` wrote. With
    `secret`, the response shows a secret once (a new API key), so its body is never
    stored: a retry learns where the created resource is, not its secret.
    """
    key = request.headers.get(IDEMPOTENCY_HEADER)
    if key is None:
        return run()
    if not _VALID_KEY.match(key):
        raise BadRequest(f"{IDEMPOTENCY_HEADER} must be 1 to 255 visible ASCII characters.")
    fingerprint = request_fingerprint()
    record, claimed = _claim(user_id, key, fingerprint)
    if record.fingerprint != fingerprint:
        raise UnprocessableEntity(
            f"This {IDEMPOTENCY_HEADER} was already used with a different request; "
            "use a new key for a new request."
        )
    if not claimed:
        return _replay(record)
    try:
        result = run()
    except BaseException:
        _release(record)
        raise
    _store(record, result, secret)
    return result


def request_fingerprint() -> str:
    """The request a key stands for: method, path, query, field mask and JSON body.

    The mask counts once, whether it came as `X-Fields` or as `?fields=`.
    """
    query = sorted((k, v) for k, v in request.args.items(multi=True) if k != FIELDS_PARAM)
    body = request.get_json(silent=True)
    if body is None:
        content = request.get_data()
    else:
        content = orjson.dumps(body, option=orjson.OPT_SORT_KEYS)
    head = orjson.dumps([request.method, request.path, query, requested_mask()])
    digest = hashlib.sha256(head + b"\n")
    digest.update(content)
    return digest.hexdigest()


def _claim(user_id: int, key: str, fingerprint: str) -> tuple[IdempotencyKey, bool]:
    """This key's row, and whether this request claimed it and so must run the handler."""
    for _ in range(CLAIM_ATTEMPTS):
        now = utcnow()
        _purge_expired(now)
        record = IdempotencyKey(
            user_id=user_id,
            key=key,
            fingerprint=fingerprint,
            created_at=now,
            expires_at=now + timedelta(seconds=current_app.config["IDEMPOTENCY_TTL"]),
        )
        db.session.add(record)
        try:
            db.session.commit()
        except IntegrityError:
            db.session.rollback()
        else:
            return record, True
        found = db.session.scalars(
            select(IdempotencyKey).where(
                IdempotencyKey.user_id == user_id, IdempotencyKey.key == key
            )
        ).first()
        if found is None:
            continue  # released or purged meanwhile: claim it again
        if found.expires_at <= now:
            _delete(found, IdempotencyKey.expires_at <= now)
            continue
        abandoned = (
            found.status is None
            and found.fingerprint == fingerprint
            and found.created_at <= now - ABANDONED_AFTER
        )
        return found, abandoned and _take_over(found, now)
    raise Conflict(IN_PROGRESS + "; retry shortly.")


def _purge_expired(now) -> None:
    expired = (
        select(IdempotencyKey.id)
        .where(IdempotencyKey.expires_at <= now)
        .limit(PURGE_BATCH)
        .with_for_update(skip_locked=True)
    )
    db.session.execute(delete(IdempotencyKey).where(IdempotencyKey.id.in_(expired)))


def _take_over(record: IdempotencyKey, now) -> bool:
    """Claim an abandoned row; of several retries doing so at once, one wins."""
    taken = db.session.execute(
        update(IdempotencyKey)
        .where(
            IdempotencyKey.id == record.id,
            IdempotencyKey.status.is_(None),
            IdempotencyKey.created_at == record.created_at,
        )
        .values(created_at=now)
    )
    db.session.commit()
    return taken.rowcount == 1


def _delete(record: IdempotencyKey, *criteria) -> None:
    db.session.execute(delete(IdempotencyKey).where(IdempotencyKey.id == record.id, *criteria))
    db.session.commit()


def _replay(record: IdempotencyKey):
    if record.status is None:
        raise _InProgress()
    headers = {REPLAYED_HEADER: "true"}
    if record.location:
        headers["Location"] = record.location
    if record.body is None:
        message = (
            "This request already succeeded. Its response showed a secret once, which is "
            "not stored; the created resource is at the Location header."
        )
        return {"message": message}, 409, headers
    return orjson.loads(record.body), record.status, headers


def _store(record: IdempotencyKey, result, secret: bool) -> None:
    """Keep a success for replays, uncommitted; forget anything else, so that a retry
    runs again."""
    if isinstance(result, Response):
        data, status, headers = result.get_json(silent=True), result.status_code, result.headers
    else:
        data, status, headers = unpack(result)
    if not 200 <= status < 300:
        _release(record)
        return
    record.status = status
    record.body = None if secret else orjson.dumps(data).decode()
    record.location = (headers or {}).get("Location")


def _release(record: IdempotencyKey) -> None:
    try:
        db.session.rollback()
        _delete(record)
    except SQLAlchemyError:
        # The claim expires as abandoned; the original error is what the client needs.
        db.session.rollback()
        log.exception("Could not release %s %r", IDEMPOTENCY_HEADER, record.key)


class _InProgress(Conflict):
    description = IN_PROGRESS + "; retry shortly."

    def get_headers(self, environ=None, scope=None):
        return [*super().get_headers(environ, scope), ("Retry-After", "1")]
