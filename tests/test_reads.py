"""GETs read plain rows: no ORM object is built or tracked to answer one."""

import pytest
from sqlalchemy import event
from sqlalchemy.orm import Session

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
