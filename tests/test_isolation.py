"""A user's data is visible to that user only: everything else is 404, never data."""

import pytest
from sqlalchemy import func, select

from models import Bucket, Item, Todo, db

WRITES = {"put": {"name": "Mine", "title": "Mine"}, "patch": {"done": True}, "delete": None}


@pytest.fixture
def alices(client, alice):
    """One of each of alice's resources, by URL."""
    with client.login(alice):
        todo = client.post("/api/v1/todos/", json={"title": "Alice's secret"}).get_json()
        bucket = client.post("/api/v1/bucketlists/", json={"name": "Alice's secret"}).get_json()
        item = client.post(
            f"/api/v1/bucketlists/{bucket['id']}/items/", json={"name": "Alice's secret"}
        ).get_json()
    return {
        "todo": f"/api/v1/todos/{todo['id']}",
        "bucket": f"/api/v1/bucketlists/{bucket['id']}",
        "items": f"/api/v1/bucketlists/{bucket['id']}/items/",
        "item": f"/api/v1/bucketlists/{bucket['id']}/items/{item['id']}",
    }


def snapshot():
    """Every row's id and last change, read afresh from the database."""
    db.session.expire_all()
    return [
        sorted((row.id, row.updated_at) for row in db.session.scalars(select(model)))
        for model in (Todo, Bucket, Item)
    ]


@pytest.mark.parametrize("resource", ["todo", "bucket", "item"])
@pytest.mark.parametrize("method", ["get", "put", "patch", "delete"])
def test_another_users_resources_do_not_exist(client, alices, bob, resource, method):
    before = snapshot()
    with client.login(bob):
        response = getattr(client, method)(alices[resource], json=WRITES.get(method))
    assert response.status_code == 404
    assert "secret" not in response.get_data(as_text=True)
    assert snapshot() == before


@pytest.mark.parametrize("method", ["get", "post"])
def test_another_users_bucket_items_do_not_exist(client, alices, bob, method):
    with client.login(bob):
        response = getattr(client, method)(alices["items"], json={"name": "planted"})
    assert response.status_code == 404
    assert db.session.scalar(select(func.count()).select_from(Item)) == 1


@pytest.mark.parametrize("url", ["/api/v1/todos/", "/api/v1/bucketlists/"])
def test_lists_show_only_the_callers_rows(client, alices, bob, url):
    with client.login(bob):
        response = client.get(url, headers={"X-Fields": "*"})
        assert response.get_json() == []
        assert response.headers["X-Total-Count"] == "0"
        assert client.get(url + "?q=secret").get_json() == []
