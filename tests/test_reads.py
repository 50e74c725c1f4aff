"""GETs read plain rows: no ORM object is built or tracked to answer one."""

import pytest
from sqlalchemy import event
from sqlalchemy.orm import Session

from models import db
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
