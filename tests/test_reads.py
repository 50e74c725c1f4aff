"""GETs read plain rows on the driver: no ORM object is built or tracked to answer one."""

from contextlib import contextmanager

import pytest
from flask import g
from sqlalchemy import bindparam, column, event, literal, select, table
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from api.connections import ConnectionReads, DriverReads, read, release_read_connection
from models import Todo, db
from tests.security.conftest import make_resources
from tests.security.routes import LISTS, ONE, ids, url

GETS = LISTS + ONE


@pytest.fixture
def loaded_objects():
    """Every ORM object any session loads while the test runs."""
    loaded = []

    def note(session, instance):
        loaded.append(instance)

    event.listen(Session, "loaded_as_persistent", note)
    yield loaded
    event.remove(Session, "loaded_as_persistent", note)


@pytest.mark.parametrize(("method", "path"), GETS, ids=ids(GETS))
@pytest.mark.parametrize("mask", [None, "*"])
def test_a_get_loads_no_orm_object(client, alice, loaded_objects, method, path, mask):
    made = make_resources(client, alice, "Alice's")
    loaded_objects.clear()
    headers = {**alice.headers, **({"X-Fields": mask} if mask else {})}
    response = client.get(url(path, made), headers=headers)
    assert response.status_code == 200
    assert response.get_json()
    assert loaded_objects == []


@pytest.mark.parametrize(("method", "path"), GETS, ids=ids(GETS))
def test_a_get_opens_no_session_and_gives_its_connection_back(client, alice, method, path):
    made = make_resources(client, alice, "Alice's")
    db.session.remove()  # the writes' session; the tests' app context outlives requests
    response = client.get(url(path, made), headers=alice.headers)
    assert response.status_code == 200
    assert not db.session.registry.has()
    assert db.engine.pool.checkedout() == 0


def _in_transaction(dbapi_connection) -> bool:
    if hasattr(dbapi_connection, "in_transaction"):  # sqlite3
        return dbapi_connection.in_transaction
    from psycopg.pq import TransactionStatus

    return dbapi_connection.info.transaction_status != TransactionStatus.IDLE


@pytest.mark.parametrize(("method", "path"), GETS, ids=ids(GETS))
def test_a_get_leaves_no_transaction_open_between_its_statements(client, alice, method, path):
    """No BEGIN and no ROLLBACK: round trips a server database would otherwise make."""
    made = make_resources(client, alice, "Alice's")
    db.session.remove()
    states = []

    def note(connection, cursor, statement, parameters, context, executemany):
        states.append(_in_transaction(connection.connection.driver_connection))

    event.listen(db.engine, "after_cursor_execute", note)
    try:
        response = client.get(url(path, made), headers=alice.headers)
    finally:
        event.remove(db.engine, "after_cursor_execute", note)
    assert response.status_code == 200
    assert states and not any(states)


@contextmanager
def statement_events():
    """A listener on the engine's statement events, as instrumentation would add."""

    def listener(*args):
        pass

    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        yield
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)


@pytest.mark.parametrize(("method", "path"), GETS, ids=ids(GETS))
@pytest.mark.parametrize("mask", [None, "*"])
def test_reads_on_the_driver_answer_what_sqlalchemy_execution_answers(
    client, alice, method, path, mask
):
    made = make_resources(client, alice, "Alice's")
    headers = {**alice.headers, **({"X-Fields": mask} if mask else {})}
    direct = client.get(url(path, made), headers=headers)
    with statement_events():
        executed = client.get(url(path, made), headers=headers)
    assert direct.status_code == executed.status_code == 200
    assert direct.get_data() == executed.get_data()
    assert direct.headers["ETag"] == executed.headers["ETag"]


def test_a_get_reads_on_the_driver_outside_a_transaction(app):
    with app.test_request_context(method="GET"):
        assert read(select(literal(7)), {}) == [(7,)]
        reader = g.reader
        assert isinstance(reader, DriverReads)
        assert not _in_transaction(reader.connection.driver_connection)
        release_read_connection()
    assert db.engine.pool.checkedout() == 0


def test_a_driver_read_gives_its_connection_back_in_its_usual_mode(app):
    with app.test_request_context(method="GET"):
        read(select(literal(1)), {})
        used = g.reader.connection.driver_connection
        release_read_connection()
    pooled = db.engine.raw_connection()
    try:
        assert pooled.driver_connection is used  # the same connection, back in the pool
        if db.engine.dialect.name != "sqlite":
            assert pooled.driver_connection.autocommit is False
    finally:
        pooled.close()


def test_reads_with_statement_events_go_through_sqlalchemy(app):
    with app.test_request_context(method="GET"), statement_events():
        read(select(literal(1)), {})
        assert isinstance(g.reader, ConnectionReads)
        release_read_connection()


def test_a_failed_driver_read_raises_sqlalchemy_errors(app):
    with app.test_request_context(method="GET"):
        with pytest.raises(DBAPIError) as raised:
            read(select(column("x")).select_from(table("nowhere")), {})
        assert isinstance(raised.value.orig, db.engine.dialect.loaded_dbapi.Error)
        release_read_connection()
    assert db.engine.pool.checkedout() == 0


def test_a_driver_read_takes_no_expanding_parameters(app):
    statement = select(Todo.id).where(Todo.id.in_(bindparam("ids", expanding=True)))
    with app.test_request_context(method="GET"):
        with pytest.raises(ValueError, match="expanding"):
            read(statement, {"ids": [1]})
        release_read_connection()
