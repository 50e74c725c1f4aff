"""Shared bucket lists: members and roles, the lists of a member, and bad input."""

import pytest

import manage
from models import Member, db
from tests.conftest import Account
from tests.test_sync import items_of, post, synced, token_of

BUCKETS = "/api/v1/bucketlists/"


def members_of(bucket_id: int) -> str:
    return f"{BUCKETS}{bucket_id}/members/"


def snapshot(client, owner: Account, bucket_id: int) -> tuple:
    """What the owner sees of a list: the list, its items and its members."""
    with client.login(owner):
        shown = client.get(f"{BUCKETS}{bucket_id}", headers={"X-Fields": "*"}).get_json()
        items = client.get(f"{BUCKETS}{bucket_id}/items/?per_page=100").get_json()
        members = client.get(members_of(bucket_id)).get_json()
    return shown, items, members


@pytest.fixture
def carol(make_account) -> Account:
    return make_account("carol@example.com")


@pytest.fixture
def shared(client, alice, bob, carol) -> int:
    """Alice's list "Trip", with one item, shared with bob (editor) and carol (viewer)."""
    with client.login(alice):
        bucket_id = client.post(BUCKETS, json={"name": "Trip"}).get_json()["id"]
        client.post(f"{BUCKETS}{bucket_id}/items/", json={"name": "Tickets"})
        for email, role in (("bob@example.com", "editor"), ("carol@example.com", "viewer")):
            response = client.post(members_of(bucket_id), json={"email": email, "role": role})
            assert response.status_code == 201, response.get_json()
    return bucket_id


class TestMembers:
    def test_the_owner_shares_a_list(self, client, alice, bob, shared):
        with client.login(alice):
            response = client.get(members_of(shared))
        assert response.status_code == 200
        members = response.get_json()
        assert [(m["email"], m["role"]) for m in members] == [
            ("alice@example.com", "owner"),
            ("bob@example.com", "editor"),
            ("carol@example.com", "viewer"),
        ]
        assert set(members[1]) == {"user_id", "email", "role", "added_at", "uri"}
        assert members[1]["user_id"] == bob.user.id
        assert "X-Total-Count" not in response.headers

    def test_a_new_member_is_answered_with_its_location(self, client, alice, make_account):
        dave = make_account("dave@example.com")
        with client.login(alice):
            bucket_id = client.post(BUCKETS, json={"name": "Books"}).get_json()["id"]
            response = client.post(
                members_of(bucket_id), json={"email": " Dave@Example.com ", "role": "viewer"}
            )
            assert response.status_code == 201
            body = response.get_json()
            assert body["user_id"] == dave.user.id and body["role"] == "viewer"
            assert response.headers["Location"] == body["uri"]
            assert client.get(body["uri"]).get_json() == body

    def test_every_member_sees_the_members(self, client, carol, shared):
        with client.login(carol):
            response = client.get(members_of(shared))
        assert response.status_code == 200 and len(response.get_json()) == 3

    def test_the_owner_changes_a_role(self, client, alice, bob, shared):
        with client.login(alice):
            response = client.patch(f"{members_of(shared)}{bob.user.id}", json={"role": "viewer"})
        assert response.status_code == 200 and response.get_json()["role"] == "viewer"
        with client.login(bob):
            response = client.patch(f"{BUCKETS}{shared}", json={"name": "Mine now"})
        assert response.status_code == 403

    @pytest.mark.parametrize("method", ["patch", "delete"])
    def test_a_member_change_is_conditional(self, client, alice, bob, shared, method):
        url = f"{members_of(shared)}{bob.user.id}"
        with client.login(alice):
            tag = client.get(url).headers["ETag"]
            before = snapshot(client, alice, shared)
            stale = getattr(client, method)(
                url, json={"role": "viewer"}, headers={"If-Match": '"stale"'}
            )
            assert stale.status_code == 412
            assert snapshot(client, alice, shared) == before
            current = getattr(client, method)(
                url, json={"role": "viewer"}, headers={"If-Match": tag}
            )
            assert current.status_code in (200, 204)

    def test_a_member_leaves(self, client, bob, shared):
        with client.login(bob):
            assert client.delete(f"{members_of(shared)}{bob.user.id}").status_code == 204
            assert client.get(f"{BUCKETS}{shared}").status_code == 404
            assert client.get(BUCKETS).get_json() == []

    def test_the_owner_removes_a_member(self, client, alice, carol, shared):
        with client.login(alice):
            assert client.delete(f"{members_of(shared)}{carol.user.id}").status_code == 204
        with client.login(carol):
            assert client.get(f"{BUCKETS}{shared}").status_code == 404

    def test_deleting_the_list_deletes_it_for_every_member(self, client, alice, bob, shared):
        with client.login(alice):
            assert client.delete(f"{BUCKETS}{shared}").status_code == 204
        with client.login(bob):
            assert client.get(f"{BUCKETS}{shared}").status_code == 404
            assert client.get(BUCKETS).get_json() == []
        assert db.session.query(Member).filter_by(bucket_id=shared).count() == 0


class TestRoles:
    def test_a_refusal_names_the_role_needed(self, client, carol, shared):
        with client.login(carol):
            response = client.post(f"{BUCKETS}{shared}/items/", json={"name": "Hotel"})
        assert response.status_code == 403
        body = response.get_json()
        assert body["required_role"] == "editor" and body["role"] == "viewer"
        assert "editor" in body["message"] and body["detail"] == body["message"]

    def test_an_editor_changes_the_list_and_its_items(self, client, bob, shared):
        with client.login(bob):
            response = client.patch(f"{BUCKETS}{shared}", json={"description": "August"})
            assert response.status_code == 200
            assert response.get_json()["role"] == "editor"
            created = client.post(f"{BUCKETS}{shared}/items/", json={"name": "Hotel"})
            assert created.status_code == 201
            item_uri = created.get_json()["uri"]
            assert client.patch(item_uri, json={"done": True}).status_code == 200
            assert client.post(item_uri + "/move", json={"after": None}).status_code == 200
            assert client.delete(item_uri).status_code == 204
            assert client.delete(f"{BUCKETS}{shared}").status_code == 403

    def test_a_stranger_finds_nothing(self, client, make_account, shared):
        stranger = make_account()
        with client.login(stranger):
            for path in ("", "/items/", "/members/"):
                response = client.get(f"{BUCKETS}{shared}{path}")
                assert response.status_code == 404, path
                assert response.get_json()["message"] == f"Bucket list {shared} not found."


class TestLists:
    def test_a_member_lists_owned_and_shared_lists(self, client, alice, bob, shared):
        with client.login(bob):
            own = client.post(BUCKETS, json={"name": "Bob's"}).get_json()
            response = client.get(BUCKETS + "?sort=name")
        assert response.status_code == 200
        assert response.headers["X-Total-Count"] == "2"
        listed = response.get_json()
        assert [(b["name"], b["role"]) for b in listed] == [("Bob's", "owner"), ("Trip", "editor")]
        assert listed[1]["owner"] == {"id": alice.user.id, "email": "alice@example.com"}
        assert listed[0]["owner"]["id"] == bob.user.id and own["role"] == "owner"

    @pytest.mark.parametrize("role", ["owner", "editor", "viewer"])
    def test_the_role_filter(self, client, alice, bob, carol, shared, role):
        with client.login(bob):
            client.post(BUCKETS, json={"name": "Bob's"})
            response = client.get(BUCKETS + f"?role={role}")
        expected = {"owner": ["Bob's"], "editor": ["Trip"], "viewer": []}[role]
        assert [b["name"] for b in response.get_json()] == expected
        assert response.headers["X-Total-Count"] == str(len(expected))

    def test_a_renamed_list_sorts_by_its_new_name_for_every_member(self, client, bob, shared):
        with client.login(bob):
            client.post(BUCKETS, json={"name": "M"})
            assert [b["name"] for b in client.get(BUCKETS + "?sort=name").get_json()] == [
                "M",
                "Trip",
            ]
            client.patch(f"{BUCKETS}{shared}", json={"name": "A trip"})
            names = [b["name"] for b in client.get(BUCKETS + "?sort=name").get_json()]
        assert names == ["A trip", "M"]

    def test_pages_of_shared_lists_follow_the_cursor(self, client, alice, bob):
        with client.login(alice):
            ids = [
                client.post(BUCKETS, json={"name": f"L{n:02}"}).get_json()["id"] for n in range(7)
            ]
            for bucket_id in ids:
                client.post(members_of(bucket_id), json={"email": bob.email, "role": "viewer"})
        seen, url = [], BUCKETS + "?per_page=3&sort=-name"
        with client.login(bob):
            while url:
                response = client.get(url)
                seen += [b["name"] for b in response.get_json()]
                links = response.headers["Link"]
                nexts = [p for p in links.split(", ") if p.endswith('rel="next"')]
                url = nexts[0][1 : nexts[0].index(">")] if nexts else None
        assert seen == [f"L{n:02}" for n in reversed(range(7))]


class TestBadInput:
    @pytest.mark.parametrize(
        ("body", "status", "words"),
        [
            ({"email": "nobody@example.com", "role": "viewer"}, 404, "No account"),
            ({"email": "bob@example.com", "role": "viewer"}, 409, "member already"),
            ({"email": "alice@example.com", "role": "editor"}, 409, "member already"),
            ({"email": "dave@example.com", "role": "owner"}, 400, "validation"),
            ({"email": "dave@example.com", "role": "admin"}, 400, "validation"),
            ({"email": "dave@example.com"}, 400, "validation"),
            ({"role": "viewer"}, 400, "validation"),
            ({"email": 7, "role": "viewer"}, 400, "validation"),
        ],
    )
    def test_inviting(self, client, alice, make_account, shared, body, status, words):
        make_account("dave@example.com")
        before = snapshot(client, alice, shared)
        with client.login(alice):
            response = client.post(members_of(shared), json=body)
        assert response.status_code == status
        assert words in response.get_json()["message"]
        assert snapshot(client, alice, shared) == before

    def test_removing_the_owner(self, client, alice, bob, shared):
        before = snapshot(client, alice, shared)
        with client.login(alice):
            response = client.delete(f"{members_of(shared)}{alice.user.id}")
        assert response.status_code == 409
        assert "owner" in response.get_json()["message"]
        assert snapshot(client, alice, shared) == before

    @pytest.mark.parametrize("role", ["editor", "viewer", "owner"])
    def test_the_owner_changing_their_own_role(self, client, alice, shared, role):
        before = snapshot(client, alice, shared)
        with client.login(alice):
            response = client.patch(f"{members_of(shared)}{alice.user.id}", json={"role": role})
        assert response.status_code in (400, 409)
        assert snapshot(client, alice, shared) == before

    def test_an_unknown_member(self, client, alice, shared, make_account):
        outsider = make_account()
        with client.login(alice):
            for method in ("get", "patch", "delete"):
                response = getattr(client, method)(
                    f"{members_of(shared)}{outsider.user.id}", json={"role": "viewer"}
                )
                assert response.status_code == 404, method
                assert "not a member" in response.get_json()["message"]

    def test_a_list_is_full_at_100_members(self, client, alice, make_account):
        with client.login(alice):
            bucket_id = client.post(BUCKETS, json={"name": "Crowd"}).get_json()["id"]
        bucket = db.session.get(Member, (bucket_id, alice.user.id))
        accounts = [make_account() for _ in range(100)]
        db.session.add_all(
            Member(
                bucket_id=bucket_id,
                user_id=account.user.id,
                role="viewer",
                name=bucket.name,
                created_at=bucket.created_at,
            )
            for account in accounts[:99]
        )
        db.session.commit()
        with client.login(alice):
            response = client.post(
                members_of(bucket_id), json={"email": accounts[99].email, "role": "viewer"}
            )
            assert response.status_code == 409 and "at most 100" in response.get_json()["message"]
            assert len(client.get(members_of(bucket_id)).get_json()) == 100


def changes(client, account: Account, url: str, token: str) -> tuple[list, str]:
    with client.login(account):
        return synced(client, url, token)


def tokens(client, accounts, url: str = BUCKETS) -> list[str]:
    tokens = []
    for account in accounts:
        with client.login(account):
            tokens.append(token_of(client, url))
    return tokens


class TestSync:
    def test_a_change_by_any_member_reaches_every_member(self, client, alice, bob, carol, shared):
        members = (alice, bob, carol)
        list_tokens = tokens(client, members)
        item_tokens = tokens(client, members, items_of(shared))
        with client.login(bob):
            item = post(client, items_of(shared), name="Hotel")
        for account, list_token, item_token in zip(members, list_tokens, item_tokens, strict=True):
            rows, _ = changes(client, account, BUCKETS, list_token)
            assert [(r["id"], r["item_count"]) for r in rows] == [(shared, 2)], account.email
            assert rows[0]["role"] == {alice: "owner", bob: "editor", carol: "viewer"}[account]
            rows, _ = changes(client, account, items_of(shared), item_token)
            assert [r["id"] for r in rows] == [item["id"]]
        with client.login(alice):
            client.patch(f"{BUCKETS}{shared}", json={"name": "Trip 2027"})
        rows, _ = changes(client, carol, BUCKETS, list_tokens[2])
        assert [r["name"] for r in rows] == ["Trip 2027"]

    def test_a_write_records_every_members_change_in_as_many_statements_as_alone(
        self, client, alice, make_account, statements
    ):
        """The change record raises every member's counter in one statement (with the
        rows' entries in it on PostgreSQL, one more on SQLite), however many they are."""

        def recorded_by_a_write(members: int) -> list[str]:
            with client.login(alice):
                bucket_id = post(client, BUCKETS, name=f"{members} members")["id"]
                for _ in range(members):
                    post(client, members_of(bucket_id), email=make_account().email, role="editor")
                with statements.capture():
                    post(client, items_of(bucket_id), name="Hotel")
            return [s for s in statements if "sync_streams" in s or "sync_changes" in s]

        alone, shared = recorded_by_a_write(0), recorded_by_a_write(20)
        assert len(shared) == len(alone) == (1 if db.engine.dialect.name == "postgresql" else 2)

    def test_a_list_shared_with_you_appears(self, client, alice, make_account, shared):
        dave = make_account("dave@example.com")
        (token,) = tokens(client, [dave])
        with client.login(alice):
            post(client, members_of(shared), email=dave.email, role="viewer")
        rows, token = changes(client, dave, BUCKETS, token)
        assert [(r["id"], r["role"], r["owner"]["email"]) for r in rows] == [
            (shared, "viewer", "alice@example.com")
        ]
        with client.login(alice):
            client.patch(f"{members_of(shared)}{dave.user.id}", json={"role": "editor"})
        rows, _ = changes(client, dave, BUCKETS, token)
        assert [(r["id"], r["role"]) for r in rows] == [(shared, "editor")]

    def test_a_list_you_leave_or_lose_is_a_tombstone(self, client, alice, bob, carol, shared):
        bob_token, carol_token, alice_token = tokens(client, [bob, carol, alice])
        with client.login(bob):
            assert client.delete(f"{members_of(shared)}{bob.user.id}").status_code == 204
        with client.login(alice):
            assert client.delete(f"{members_of(shared)}{carol.user.id}").status_code == 204
        for account, token in ((bob, bob_token), (carol, carol_token)):
            rows, _ = changes(client, account, BUCKETS, token)
            assert rows == [{"id": shared, "deleted": True}], account.email
        # The owner's list did not change.
        assert changes(client, alice, BUCKETS, alice_token)[0] == []

    def test_a_deleted_list_is_a_tombstone_for_every_member(
        self, client, alice, bob, carol, shared
    ):
        members = (alice, bob, carol)
        list_tokens = tokens(client, members)
        with client.login(alice):
            assert client.delete(f"{BUCKETS}{shared}").status_code == 204
        for account, token in zip(members, list_tokens, strict=True):
            rows, _ = changes(client, account, BUCKETS, token)
            assert rows == [{"id": shared, "deleted": True}], account.email

    def test_a_deleted_account_deletes_its_lists_for_every_member(
        self, client, runner, alice, bob, carol, shared
    ):
        with client.login(bob):
            bobs = post(client, BUCKETS, name="Bob's own")["id"]
            post(client, members_of(bobs), email=alice.email, role="editor")
        bob_token, carol_token = tokens(client, [bob, carol])
        result = runner.invoke(manage.cli, ["delete-user", alice.email, "--yes"])
        assert result.exit_code == 0, result.output
        for account, token in ((bob, bob_token), (carol, carol_token)):
            rows, _ = changes(client, account, BUCKETS, token)
            assert rows == [{"id": shared, "deleted": True}], account.email
        with client.login(bob):
            # Alice leaves the list she was a member of; it stays bob's.
            assert [m["email"] for m in client.get(members_of(bobs)).get_json()] == [bob.email]
            assert client.get(f"{BUCKETS}{shared}").status_code == 404
        with client.login(alice):
            assert client.get(BUCKETS).status_code == 401
