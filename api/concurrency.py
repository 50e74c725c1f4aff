"""Conditional writes land only on the row versions their precondition read.

The check of `If-Match` reads the target through the resource's own `get`; the write
that follows loads the rows again, and so may see a newer version than the one checked.
`versions_read` notes the version of each versioned row the check reads, as an ORM
object or as a row read into a dict (`rows_read`); `writes_only_to` makes the flush
refuse, with `StaleDataError`, to write any of those rows at another version. The flush's own
`WHERE version = ...` (`models.base.Versioned`) then covers the rest of the race.
"""

from contextlib import contextmanager
from contextvars import ContextVar
from itertools import chain

from sqlalchemy import event, inspect
from sqlalchemy.orm.exc import StaleDataError


def _version(state) -> tuple[str, object] | None:
    column = state.mapper.version_id_col
    if column is None:
        return None
    key = state.mapper.get_property_by_column(column).key
    return key, state.committed_state.get(key, state.dict.get(key))


# The {identity: version} of `versions_read` while one is open.
_versions = ContextVar("versions_read", default=None)


@contextmanager
def versions_read(session):
    """Yield a dict that fills with {identity: version} of the rows read meanwhile."""
    read = {}

    def loaded(session, instance):
        state = inspect(instance)
        version = _version(state)
        if version is not None and version[1] is not None:
            read[state.key] = version[1]

    event.listen(session, "loaded_as_persistent", loaded)
    token = _versions.set(read)
    try:
        yield read
    finally:
        _versions.reset(token)
        event.remove(session, "loaded_as_persistent", loaded)


def rows_read(entity, rows: list[dict]) -> None:
    """Note the versions of `entity`'s rows, read as dicts, for `versions_read`."""
    read = _versions.get()
    if read is None:
        return
    mapper = inspect(entity)
    if mapper.version_id_col is None:
        return
    version = mapper.get_property_by_column(mapper.version_id_col).key
    keys = [mapper.get_property_by_column(column).key for column in mapper.primary_key]
    for row in rows:
        identity = mapper.identity_key_from_primary_key([row[key] for key in keys])
        read[identity] = row[version]


@contextmanager
def writes_only_to(session, read: dict):
    """Within the block, flushing a change to a row read at another version fails."""

    def check(session, flush_context, instances):
        for instance in chain(session.dirty, session.deleted):
            state = inspect(instance)
            expected = read.get(state.key)
            version = _version(state)
            if expected is not None and version is not None and version[1] != expected:
                raise StaleDataError(f"{state.mapper.class_.__name__} {state.key[1]} changed")

    event.listen(session, "before_flush", check)
    try:
        yield
    finally:
        event.remove(session, "before_flush", check)
