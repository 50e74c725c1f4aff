"""A user's data is visible to that user only: everything else is 404, never data."""

import re

import pytest
from sqlalchemy import func, select

from models import ApiKey, Bucket, Item, Todo, db
from tests.security.routes import ARRAYS, BODIES, LISTS, ONE, WITH_IDS, ids, url


def snapshot():
    """Every row's id and last change (or digest), read afresh from the database."""
    db.session.expire_all()
    rows = [
        sorted((row.id, row.updated_at) for row in db.session.scalars(select(model)))
        for model in (Todo, Bucket, Item)
    ]
    return rows + [sorted((k.id, k.digest) for k in db.session.scalars(select(ApiKey)))]


def body_for(method: str, path: str):
    return {"done": True} if method == "patch" else BODIES.get(path)


@pytest.mark.parametrize(("method", "path"), WITH_IDS, ids=ids(WITH_IDS))
def test_another_users_resources_do_not_exist(client, alices, bob, bobs, method, path):
    before = snapshot()
    with client.login(bob):
        response = getattr(client, method)(url(path, alices), json=body_for(method, path))
    assert response.status_code == 404
    assert "secret" not in response.get_data(as_text=True)
    assert snapshot() == before


@pytest.mark.parametrize(
    ("method", "path"),
    [(m, p) for m, p in WITH_IDS if "{item}" in p],
    ids=ids([(m, p) for m, p in WITH_IDS if "{item}" in p]),
)
def test_an_item_of_another_user_under_ones_own_bucket_does_not_exist(
    client, alices, bob, bobs, method, path
):
    before = snapshot()
    mixed = {**bobs, "item": alices["item"]}
    with client.login(bob):
        response = getattr(client, method)(url(path, mixed), json=body_for(method, path))
    assert response.status_code == 404
    assert "secret" not in response.get_data(as_text=True)
    assert snapshot() == before


def test_items_cannot_be_planted_in_another_users_bucket(client, alices, bob):
    with client.login(bob):
        response = client.post(url("/bucketlists/{bucket}/items/", alices), json={"name": "x"})
    assert response.status_code == 404
    assert db.session.scalar(select(func.count()).select_from(Item)) == 1


@pytest.mark.parametrize("path", ["/todos/", "/bucketlists/"])
def test_lists_show_only_the_callers_rows(client, alices, bob, path):
    with client.login(bob):
        response = client.get(url(path), headers={"X-Fields": "*"})
        assert response.get_json() == []
        assert response.headers["X-Total-Count"] == "0"
        assert client.get(url(path) + "?q=secret").get_json() == []


def test_the_key_list_shows_only_the_callers_keys(client, alices, bob):
    with client.login(bob):
        keys = client.get(url("/auth/keys/")).get_json()
    assert [key["id"] for key in keys] != [alices["key"]] and len(keys) == 1


OWNED_TABLES = re.compile(r"\bFROM (todos|tags|buckets|items|api_keys)\b")
# Every GET that reads a user's rows (GET /auth/me reads only the credential).
READS = [(m, p) for m, p in LISTS + ARRAYS + ONE if p != "/auth/me"]


@pytest.mark.parametrize(("method", "path"), READS, ids=ids(READS))
def test_every_read_of_an_owned_table_names_the_owner(
    client, alices, bob, bobs, statements, method, path
):
    with client.login(bob), statements.capture():
        response = client.get(url(path, bobs), headers={"X-Fields": "*"})
    assert response.status_code == 200
    # The credential lookup finds the owner by the secret's digest: it is how a request
    # gets one. Every other read names the owner.
    reads = [s for s in statements.selects if OWNED_TABLES.search(s) and ".digest = " not in s]
    assert reads, statements
    for read in reads:
        table = OWNED_TABLES.search(read)[1]
        # A bucket list and its items are read through the caller's membership of the list
        # (api.policies.roles), or by the owner the membership named.
        member = table in ("buckets", "items") and re.search(r"\bbucket_members\.user_id = ", read)
        assert member or re.search(rf"\b{table}\.user_id = ", read), read
