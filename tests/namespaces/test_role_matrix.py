"""The role matrix: every bucket list, item and member route, with every method, as every
kind of caller.

`ROUTES` is the one table: each operation of a bucket list with the role it needs and a
body that would succeed. It is checked against the spec, so a route added to the API and
not to the table fails here. Each operation is then tried as the owner, an editor, a
viewer, a member who was removed and a stranger: a role that allows it gets a 2xx; a
member whose role does not gets 403; anyone else gets 404, as if the list did not exist.
A refused request changes nothing: the owner reads the list, its items and its members
before and after.
"""

from typing import NamedTuple

import pytest

from models import EDITOR, OWNER, ROLES, VIEWER
from tests.namespaces.test_sharing import BUCKETS, members_of, snapshot

REMOVED, STRANGER = "removed member", "stranger"
MISSING = 987654  # the id of no list
CALLERS = (OWNER, EDITOR, VIEWER, REMOVED, STRANGER)


class Operation(NamedTuple):
    path: str  # as the spec names it
    method: str
    needs: str
    body: dict | None = None
    own: bool = False  # on the caller's own membership: `{user_id}` is the caller's id


ROUTES = [
    Operation("/bucketlists/{id}", "get", VIEWER),
    Operation("/bucketlists/{id}", "put", EDITOR, {"name": "Replaced"}),
    Operation("/bucketlists/{id}", "patch", EDITOR, {"description": "Changed"}),
    Operation("/bucketlists/{id}", "delete", OWNER),
    Operation("/bucketlists/{id}/items/", "get", VIEWER),
    Operation("/bucketlists/{id}/items/", "post", EDITOR, {"name": "Added"}),
    Operation("/bucketlists/{id}/items/{item_id}", "get", VIEWER),
    Operation("/bucketlists/{id}/items/{item_id}", "put", EDITOR, {"name": "Replaced"}),
    Operation("/bucketlists/{id}/items/{item_id}", "patch", EDITOR, {"done": True}),
    Operation("/bucketlists/{id}/items/{item_id}", "delete", EDITOR),
    Operation("/bucketlists/{id}/items/{item_id}/move", "post", EDITOR, {"after": None}),
    Operation("/bucketlists/{id}/members/", "get", VIEWER),
    Operation(
        "/bucketlists/{id}/members/", "post", OWNER, {"email": "grace@example.com", "role": VIEWER}
    ),
    Operation("/bucketlists/{id}/members/{user_id}", "get", VIEWER),
    Operation("/bucketlists/{id}/members/{user_id}", "patch", OWNER, {"role": EDITOR}),
    Operation("/bucketlists/{id}/members/{user_id}", "delete", OWNER),
    # Leaving: any member may remove themself, but the owner (409: a list keeps its owner).
    Operation("/bucketlists/{id}/members/{user_id}", "delete", VIEWER, own=True),
]
# The routes of no one list: any account may call them, on its own lists.
UNSCOPED = {("/bucketlists/", "get"), ("/bucketlists/", "post")}


def allowed(caller: str, needs: str) -> bool:
    return caller in ROLES and ROLES.index(caller) >= ROLES.index(needs)


class Setting(NamedTuple):
    bucket_id: int
    item_id: int
    target_id: int  # a viewer the member routes act on
    callers: dict


@pytest.fixture
def setting(client, make_account) -> Setting:
    """A list of alice's, with two items, shared with an editor, two viewers (one of them
    the member routes' target), and a member who was removed; and a stranger."""
    owner = make_account("alice@example.com")
    editor, viewer, target, removed, stranger = (make_account() for _ in range(5))
    make_account("grace@example.com")
    with client.login(owner):
        bucket_id = client.post(BUCKETS, json={"name": "Shared"}).get_json()["id"]
        items = f"{BUCKETS}{bucket_id}/items/"
        item_id = client.post(items, json={"name": "First"}).get_json()["id"]
        client.post(items, json={"name": "Second"})
        for account, role in ((editor, EDITOR), (viewer, VIEWER), (target, VIEWER)):
            client.post(members_of(bucket_id), json={"email": account.email, "role": role})
        client.post(members_of(bucket_id), json={"email": removed.email, "role": EDITOR})
        assert client.delete(f"{members_of(bucket_id)}{removed.user.id}").status_code == 204
    callers = {
        OWNER: owner,
        EDITOR: editor,
        VIEWER: viewer,
        REMOVED: removed,
        STRANGER: stranger,
    }
    return Setting(bucket_id, item_id, target.user.id, callers)


@pytest.mark.parametrize("spec_url", ["/api/v1/swagger.json", "/api/v1/openapi.json"])
def test_the_table_holds_every_route_of_the_spec_with_its_role(client, spec_url):
    spec = client.get(spec_url).get_json()
    documented = {
        (path, method): operation
        for path, operations in spec["paths"].items()
        if path.startswith("/bucketlists/")
        for method, operation in operations.items()
        if method in ("get", "put", "patch", "post", "delete")
    }
    assert set(documented) == {(op.path, op.method) for op in ROUTES} | UNSCOPED
    for op in ROUTES:
        operation = documented[(op.path, op.method)]
        key = "x-required-role-self" if op.own else "x-required-role"
        assert operation[key] == op.needs, op
        assert {"403", "404"} <= set(operation["responses"]), op


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize(
    "op", ROUTES, ids=lambda op: f"{op.method.upper()} {op.path}{' (own)' if op.own else ''}"
)
def test_the_role_matrix(client, setting, op, caller):
    target = setting.callers[caller].user.id if op.own else setting.target_id

    def url(bucket_id: int) -> str:
        path = op.path.format(id=bucket_id, item_id=setting.item_id, user_id=target)
        return "/api/v1" + path

    owner = setting.callers[OWNER]
    before = snapshot(client, owner, setting.bucket_id)
    with client.login(setting.callers[caller]):
        response = client.open(url(setting.bucket_id), method=op.method.upper(), json=op.body)
        missing = client.open(url(MISSING), method=op.method.upper(), json=op.body)
    body = response.get_json(silent=True)
    if op.own and caller == OWNER:
        assert response.status_code == 409, body
    elif allowed(caller, op.needs):
        assert 200 <= response.status_code < 300, body
        return
    elif caller in ROLES:
        assert response.status_code == 403, body
        assert body["required_role"] == op.needs and body["role"] == caller
    else:
        # Exactly as if the list did not exist.
        assert response.status_code == missing.status_code == 404, body
        assert body["message"] == missing.get_json()["message"].replace(
            str(MISSING), str(setting.bucket_id)
        )
    assert snapshot(client, owner, setting.bucket_id) == before
