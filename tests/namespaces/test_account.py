"""The account itself: changing its password, deleting it, and both under races."""

import time
from collections import Counter
from functools import partial

import pytest
from sqlalchemy import func, select

from models import AccessToken, ApiKey, Bucket, Todo, User, db
from tests.clients import AppHttp, together

API = "/api/v1"
ME = f"{API}/auth/me"
NEW_PASSWORD = "a longer passphrase"


def login(client, email: str, password: str):
    return client.post(f"{API}/auth/login", json={"email": email, "password": password})


def bearer(client, account) -> dict:
    response = login(client, account.email, account.password)
    assert response.status_code == 200, response.get_json()
    return {"Authorization": "Bearer " + response.get_json()["access_token"]}


def rows_of(user_id: int) -> dict:
    """How many rows of each kind the account has, read afresh."""
    db.session.expire_all()
    return {
        model.__name__: db.session.scalar(
            select(func.count()).select_from(model).where(model.user_id == user_id)
        )
        for model in (Todo, Bucket, ApiKey, AccessToken)
    }


class TestPasswordChange:
    def test_changes_the_password_and_revokes_every_token(self, client, alice):
        tokens = [bearer(client, alice), bearer(client, alice)]
        response = client.patch(
            ME,
            json={"current_password": alice.password, "new_password": NEW_PASSWORD},
            headers=tokens[0],
        )
        assert response.status_code == 204
        for token in tokens:
            refused = client.get(ME, headers=token)
            assert refused.status_code == 401, refused.get_json()
        assert login(client, alice.email, alice.password).status_code == 401
        assert login(client, alice.email, NEW_PASSWORD).status_code == 200
        # API keys are not bearer tokens: they stay until revoked.
        assert client.get(ME, headers=alice.headers).status_code == 200

    @pytest.mark.parametrize(
        ("body", "status", "words"),
        [
            ({"current_password": "wrong-password", "new_password": NEW_PASSWORD}, 403, "wrong"),
            ({"current_password": "password-123", "new_password": "password-123"}, 400, "current"),
            ({"current_password": "password-123", "new_password": "short"}, 400, "validation"),
            ({"current_password": "password-123", "new_password": "x" * 1025}, 400, "validation"),
            ({"current_password": "password-123"}, 400, "validation"),
            ({"new_password": NEW_PASSWORD}, 400, "validation"),
            ({"current_password": 12345678, "new_password": NEW_PASSWORD}, 400, "validation"),
        ],
    )
    def test_bad_input_changes_nothing(self, client, alice, body, status, words):
        token = bearer(client, alice)
        before = db.session.get(User, alice.user.id).password_hash
        response = client.patch(ME, json=body, headers=alice.headers)
        assert response.status_code == status
        message = response.get_json()["message"] + str(response.get_json().get("errors"))
        assert words in message
        assert "password-123" not in response.get_data(as_text=True)
        db.session.expire_all()
        assert db.session.get(User, alice.user.id).password_hash == before
        assert client.get(ME, headers=token).status_code == 200

    def test_guessing_the_current_password_meets_a_429(self, app, client, alice):
        limit = int(app.config["RATELIMIT_AUTH"].split()[0])
        statuses = [
            client.patch(
                ME,
                json={"current_password": f"guess-{n:04}", "new_password": NEW_PASSWORD},
                headers=alice.headers,
            ).status_code
            for n in range(limit + 1)
        ]
        assert statuses == [403] * limit + [429]


class TestConditions:
    """PATCH and DELETE of the account honour If-Match, as every write does."""

    def test_a_stale_tag_changes_nothing_and_the_current_one_writes(self, client, alice):
        tag = client.get(ME, headers=alice.headers).headers["ETag"]
        change = {"current_password": alice.password, "new_password": NEW_PASSWORD}
        stale = {**alice.headers, "If-Match": '"stale"'}
        before = db.session.get(User, alice.user.id).password_hash
        assert client.patch(ME, json=change, headers=stale).status_code == 412
        assert (
            client.delete(ME, json={"password": alice.password}, headers=stale).status_code == 412
        )
        db.session.expire_all()
        assert db.session.get(User, alice.user.id).password_hash == before
        current = {**alice.headers, "If-Match": tag}
        assert client.patch(ME, json=change, headers=current).status_code == 204
        gone = client.delete(ME, json={"password": NEW_PASSWORD}, headers=current)
        assert gone.status_code == 204
        assert db.session.get(User, alice.user.id) is None


class TestAccountDeletion:
    def test_deletes_the_account_and_everything_it_owns(self, client, alice, bob):
        token = bearer(client, alice)
        with client.login(alice):
            client.post(f"{API}/todos/", json={"title": "mine"})
            bucket = client.post(f"{API}/bucketlists/", json={"name": "Trip"}).get_json()
            client.post(
                f"{API}/bucketlists/{bucket['id']}/members/",
                json={"email": bob.email, "role": "viewer"},
            )
        with client.login(bob):
            sync = client.get(f"{API}/bucketlists/").headers["X-Sync-Token"]
        response = client.delete(ME, json={"password": alice.password}, headers=token)
        assert response.status_code == 204
        for credential in (token, alice.headers):
            assert client.get(ME, headers=credential).status_code == 401
        assert login(client, alice.email, alice.password).status_code == 401
        assert rows_of(alice.user.id) == {"Todo": 0, "Bucket": 0, "ApiKey": 0, "AccessToken": 0}
        assert db.session.get(User, alice.user.id) is None
        with client.login(bob):
            changes = client.get(f"{API}/bucketlists/", query_string={"since": sync})
            assert changes.get_json() == [{"id": bucket["id"], "deleted": True}]
            assert client.get(f"{API}/bucketlists/{bucket['id']}").status_code == 404

    @pytest.mark.parametrize(
        ("body", "status"),
        [({"password": "wrong-password"}, 403), ({}, 400), ({"password": ""}, 400), (None, 400)],
    )
    def test_a_wrong_or_missing_password_changes_nothing(self, client, alice, body, status):
        with client.login(alice):
            client.post(f"{API}/todos/", json={"title": "mine"})
        before = rows_of(alice.user.id)
        response = client.delete(ME, json=body, headers=alice.headers)
        assert response.status_code == status, response.get_json()
        assert rows_of(alice.user.id) == before
        assert client.get(ME, headers=alice.headers).status_code == 200

    def test_a_body_that_is_not_json_is_refused(self, client, alice):
        response = client.delete(
            ME, data="password=password-123", content_type="text/plain", headers=alice.headers
        )
        assert response.status_code in (400, 415)
        assert client.get(ME, headers=alice.headers).status_code == 200


RACERS = 24
ROUNDS = 3


@pytest.fixture
def config_overrides():
    return {"PROPAGATE_EXCEPTIONS": False}


def until_refused(http, seconds: float = 20):
    """GET /todos/ again and again, as a client that goes on using its key, until a
    request is refused or `seconds` have passed; the last answer."""
    deadline = time.monotonic() + seconds
    answer = http("GET", "/todos/")
    while answer.status == 200 and time.monotonic() < deadline:
        answer = http("GET", "/todos/")
    return answer


def test_deleting_an_account_while_its_keys_are_in_use(app, make_account):
    """Each round, an account's deletion is released together with its own writes and
    reads through its API key: each is answered before the deletion (2xx) or refused
    after it (401, or 409 for a write the deletion overtook), never a 500; nothing of the
    account is left."""
    outcomes = Counter()
    for _ in range(ROUNDS):
        account = make_account()
        http = AppHttp(app, account.headers)
        todo = http("POST", "/todos/", {"title": "first"}).body["id"]
        tasks = [partial(http, "DELETE", "/auth/me", {"password": account.password})]
        # One client keeps reading until it is refused: someone always comes after.
        tasks.append(partial(until_refused, http))
        for n in range(RACERS - 2):
            if n % 3 == 0:
                tasks.append(partial(http, "POST", "/todos/", {"title": f"new {n}"}))
            elif n % 3 == 1:
                tasks.append(partial(http, "PATCH", f"/todos/{todo}", {"done": n % 2 == 0}))
            else:
                tasks.append(partial(http, "GET", "/todos/"))
        deletion, *others = together(tasks, timeout=60)
        assert deletion.status == 204, deletion
        statuses = Counter(result.status for result in others)
        assert set(statuses) <= {200, 201, 401, 404, 409}, statuses
        outcomes.update(statuses)
        assert rows_of(account.user.id) == {"Todo": 0, "Bucket": 0, "ApiKey": 0, "AccessToken": 0}
        assert http("GET", "/auth/me").status == 401
        db.session.expunge_all()  # SQLite may give the account's id to the next one
    print(f"outcomes over {ROUNDS} rounds: {dict(outcomes)}")
    # The race was run: requests answered before the deletion, and others after it.
    assert outcomes[200] + outcomes[201] and outcomes[401] + outcomes[404] + outcomes[409]


def test_changing_the_password_while_tokens_are_in_use(app, client, make_account):
    """The password changes while the account's bearer tokens read and write: each
    request is answered before the change (2xx) or refused after it (401), never a 500."""
    outcomes = Counter()
    for _ in range(ROUNDS):
        account = make_account()
        tokens = [bearer(client, account) for _ in range(3)]
        calls = [AppHttp(app, token) for token in tokens]
        change = partial(
            calls[0],
            "PATCH",
            "/auth/me",
            {"current_password": account.password, "new_password": NEW_PASSWORD},
        )
        tasks = [change]
        for n in range(RACERS - 1):
            http = calls[n % 3]
            if n % 2:
                tasks.append(partial(http, "POST", "/todos/", {"title": f"t{n}"}))
            else:
                tasks.append(partial(http, "GET", "/auth/me"))
        changed, *others = together(tasks, timeout=60)
        assert changed.status == 204, changed
        statuses = Counter(result.status for result in others)
        assert set(statuses) <= {200, 201, 401}, statuses
        outcomes.update(statuses)
        assert all(http("GET", "/auth/me").status == 401 for http in calls)
        db.session.expire_all()
        assert db.session.get(User, account.user.id).check_password(NEW_PASSWORD)
    print(f"outcomes over {ROUNDS} rounds: {dict(outcomes)}")
