"""Alice owns one of everything; Bob owns his own; tests attack as Bob or as nobody."""

import pytest

from models import ApiKey, db


def make_resources(client, account, label: str) -> dict:
    """One todo, one bucket list with one item, and the API key: their ids by name."""
    with client.login(account):
        todo = client.post("/api/v1/todos/", json={"title": f"{label} todo"}).get_json()
        bucket = client.post("/api/v1/bucketlists/", json={"name": f"{label} bucket"}).get_json()
        item = client.post(
            f"/api/v1/bucketlists/{bucket['id']}/items/", json={"name": f"{label} item"}
        ).get_json()
    key = db.session.scalars(db.select(ApiKey).where(ApiKey.user_id == account.user.id)).one()
    return {"todo": todo["id"], "bucket": bucket["id"], "item": item["id"], "key": key.id}


@pytest.fixture
def alices(client, alice) -> dict:
    return make_resources(client, alice, "Alice's secret")


@pytest.fixture
def bobs(client, bob) -> dict:
    return make_resources(client, bob, "Bob's")
