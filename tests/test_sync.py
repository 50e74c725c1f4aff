"""Incremental sync: X-Sync-Token, ?since=, tombstones, retention, and refused tokens."""

import re
from urllib.parse import urlsplit

import pytest
from itsdangerous import URLSafeSerializer
from sqlalchemy import func, select

import manage
from api.policies import sync
from models import SyncChange, SyncStream, db
from models.sync import PURGE_EVERY

TODOS = "/api/v1/todos/"
BUCKETS = "/api/v1/bucketlists/"
TOKEN = "X-Sync-Token"


def items_of(bucket_id: int) -> str:
    return f"{BUCKETS}{bucket_id}/items/"


def next_link(response) -> str | None:
    found = re.search(r'<([^>]+)>; rel="next"', response.headers.get("Link", ""))
    if found is None:
        return None
    parts = urlsplit(found.group(1))
    return f"{parts.path}?{parts.query}"


def token_of(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, response.get_json()
    return response.headers[TOKEN]


def since(client, url: str, token: str, **query):
    return client.get(url, query_string={"since": token, **query})


def synced(client, url: str, token: str, per_page: int = 100) -> tuple[list, str]:
    """Every change after `token`, following `next` links; and the last token handed."""
    rows = []
    response = since(client, url, token, per_page=per_page)
    while True:
        assert response.status_code == 200, response.get_json()
        rows += response.get_json()
        link = next_link(response)
        if link is None:
            return rows, response.headers[TOKEN]
        response = client.get(link)


def post(client, url: str, **body) -> dict:
    response = client.post(url, json=body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


class TestTokens:
    def test_every_list_hands_a_token(self, auth_client):
        bucket = post(auth_client, BUCKETS, name="Travel")
        for url in (TODOS, BUCKETS, items_of(bucket["id"])):
            response = auth_client.get(url)
            assert response.status_code == 200
            assert response.headers[TOKEN]

    def test_an_unchanged_list_keeps_its_token_and_answers_304(self, auth_client):
        post(auth_client, TODOS, title="a")
        first = auth_client.get(TODOS)
        again = auth_client.get(TODOS, headers={"If-None-Match": first.headers["ETag"]})
        assert again.status_code == 304
        assert again.headers[TOKEN] == first.headers[TOKEN]
        post(auth_client, TODOS, title="b")
        changed = auth_client.get(TODOS, headers={"If-None-Match": first.headers["ETag"]})
        assert changed.status_code == 200
        assert changed.headers[TOKEN] != first.headers[TOKEN]

    def test_a_since_call_with_nothing_new_is_304_with_its_etag(self, auth_client):
        token = token_of(auth_client, TODOS)
        empty = since(auth_client, TODOS, token)
        assert empty.status_code == 200 and empty.get_json() == []
        assert empty.headers[TOKEN] == token
        again = auth_client.get(
            TODOS, query_string={"since": token}, headers={"If-None-Match": empty.headers["ETag"]}
        )
        assert again.status_code == 304
        post(auth_client, TODOS, title="new")
        fresh = auth_client.get(
            TODOS, query_string={"since": token}, headers={"If-None-Match": empty.headers["ETag"]}
        )
        assert fresh.status_code == 200 and [t["title"] for t in fresh.get_json()] == ["new"]


class TestChanges:
    def test_created_changed_and_deleted_todos_come_in_change_order(self, auth_client):
        kept = post(auth_client, TODOS, title="kept")
        changed = post(auth_client, TODOS, title="changed")
        gone = post(auth_client, TODOS, title="secret plans", description="nobody may know")
        token = token_of(auth_client, TODOS)
        assert since(auth_client, TODOS, token).get_json() == []

        new = post(auth_client, TODOS, title="new")
        patch = auth_client.patch(f"{TODOS}{changed['id']}", json={"done": True})
        assert patch.status_code == 200
        assert auth_client.delete(f"{TODOS}{gone['id']}").status_code == 204

        rows, last = synced(auth_client, TODOS, token)
        assert [row["id"] for row in rows] == [new["id"], changed["id"], gone["id"]]
        assert rows[0] == auth_client.get(f"{TODOS}{new['id']}").get_json()
        assert rows[1]["done"] is True and rows[1]["completed_at"]
        assert rows[2] == {"id": gone["id"], "deleted": True}
        assert kept["id"] not in [row["id"] for row in rows]
        # Once: the next sync from the last token is empty.
        assert since(auth_client, TODOS, last).get_json() == []

    def test_a_tombstone_keeps_nothing_of_the_deleted_row(self, auth_client):
        gone = post(auth_client, TODOS, title="secret plans", description="nobody may know")
        token = token_of(auth_client, TODOS)
        auth_client.delete(f"{TODOS}{gone['id']}")
        response = since(auth_client, TODOS, token)
        assert response.get_json() == [{"id": gone["id"], "deleted": True}]
        assert b"secret" not in response.data and b"nobody" not in response.data
        # The record itself holds ids and positions only: the row is gone from the database.
        columns = set(SyncChange.__table__.columns.keys())
        assert columns == {"stream_id", "row_id", "seq", "deleted", "changed_at"}

    def test_a_row_changed_many_times_comes_once_at_its_last_change(self, auth_client):
        first = post(auth_client, TODOS, title="first")
        second = post(auth_client, TODOS, title="second")
        token = token_of(auth_client, TODOS)
        for title in ("one", "two", "three"):
            auth_client.patch(f"{TODOS}{first['id']}", json={"title": title})
        auth_client.patch(f"{TODOS}{second['id']}", json={"title": "later"})
        rows, _ = synced(auth_client, TODOS, token)
        assert [(row["id"], row["title"]) for row in rows] == [
            (first["id"], "three"),
            (second["id"], "later"),
        ]

    def test_pages_of_changes_follow_next_links_and_hand_their_tokens(self, auth_client):
        token = token_of(auth_client, TODOS)
        created = [post(auth_client, TODOS, title=f"t{i}")["id"] for i in range(7)]
        page = since(auth_client, TODOS, token, per_page=3)
        assert [row["id"] for row in page.get_json()] == created[:3]
        assert "X-Total-Count" not in page.headers
        # The page's token is where the page ends: a client that stops here loses nothing.
        rest, _ = synced(auth_client, TODOS, page.headers[TOKEN])
        assert [row["id"] for row in rest] == created[3:]
        walked, _ = synced(auth_client, TODOS, token, per_page=3)
        assert [row["id"] for row in walked] == created

    def test_a_mask_applies_to_rows_and_keeps_a_tombstone_whole(self, auth_client):
        token = token_of(auth_client, TODOS)
        kept = post(auth_client, TODOS, title="kept")
        gone = post(auth_client, TODOS, title="gone")
        auth_client.delete(f"{TODOS}{gone['id']}")
        response = auth_client.get(
            TODOS, query_string={"since": token}, headers={"X-Fields": "{title}"}
        )
        assert response.get_json() == [{"title": "kept"}, {"id": gone["id"], "deleted": True}]
        assert kept["id"]

    def test_tags_and_moves_are_changes(self, auth_client):
        a = post(auth_client, TODOS, title="a")
        b = post(auth_client, TODOS, title="b")
        token = token_of(auth_client, TODOS)
        auth_client.post(f"{TODOS}{a['id']}/move", json={"after": b["id"]})
        auth_client.patch(f"{TODOS}{b['id']}", json={"tags": ["home"]})
        rows, _ = synced(auth_client, TODOS, token)
        assert [row["id"] for row in rows] == [a["id"], b["id"]]
        assert rows[0]["position"] > b["position"] and rows[1]["tags"] == ["home"]


class TestBucketLists:
    def test_items_sync_within_their_list(self, auth_client):
        bucket = post(auth_client, BUCKETS, name="Travel")
        url = items_of(bucket["id"])
        first = post(auth_client, url, name="Aurora")
        token = token_of(auth_client, url)
        second = post(auth_client, url, name="Fjords")
        auth_client.patch(f"{url}{first['id']}", json={"done": True})
        auth_client.delete(f"{url}{second['id']}")
        rows, _ = synced(auth_client, url, token)
        assert [row["id"] for row in rows] == [first["id"], second["id"]]
        assert rows[0]["done"] is True and rows[1] == {"id": second["id"], "deleted": True}

    def test_an_item_change_changes_its_list_in_the_lists_sync(self, auth_client):
        bucket = post(auth_client, BUCKETS, name="Travel")
        other = post(auth_client, BUCKETS, name="Books")
        token = token_of(auth_client, BUCKETS)
        post(auth_client, items_of(bucket["id"]), name="Aurora")
        rows, _ = synced(auth_client, BUCKETS, token)
        assert [(row["id"], row["item_count"]) for row in rows] == [(bucket["id"], 1)]
        assert other["id"] not in [row["id"] for row in rows]

    def test_deleting_a_list_tombstones_it_and_its_items_need_none(self, auth_client):
        bucket = post(auth_client, BUCKETS, name="Travel", description="Places")
        url = items_of(bucket["id"])
        post(auth_client, url, name="Aurora")
        lists_token = token_of(auth_client, BUCKETS)
        items_token = token_of(auth_client, url)
        assert auth_client.delete(f"{BUCKETS}{bucket['id']}").status_code == 204
        rows, _ = synced(auth_client, BUCKETS, lists_token)
        assert rows == [{"id": bucket["id"], "deleted": True}]
        # The items' list is gone with it, and so is its record.
        assert since(auth_client, url, items_token).status_code == 404
        assert db.session.scalar(select(func.count()).select_from(SyncStream).where(
            SyncStream.key == f"items/{bucket['id']}"
        )) == 0  # fmt: skip

    def test_a_mask_may_ask_for_the_embedded_items_in_a_sync(self, auth_client):
        token = token_of(auth_client, BUCKETS)
        bucket = post(auth_client, BUCKETS, name="Travel")
        post(auth_client, items_of(bucket["id"]), name="Aurora")
        response = auth_client.get(
            BUCKETS, query_string={"since": token}, headers={"X-Fields": "{id,items{name}}"}
        )
        assert response.get_json() == [{"id": bucket["id"], "items": [{"name": "Aurora"}]}]


class TestFullListing:
    def test_every_page_of_a_walk_hands_the_token_of_its_first(self, auth_client):
        ids = [post(auth_client, TODOS, title=f"t{i}")["id"] for i in range(5)]
        first = auth_client.get(TODOS, query_string={"per_page": 2})
        # A row already walked past changes during the walk...
        auth_client.patch(f"{TODOS}{ids[0]}", json={"title": "renamed"})
        response, replica = first, {}
        while True:
            replica.update((row["id"], row) for row in response.get_json())
            token = response.headers[TOKEN]
            link = next_link(response)
            if link is None:
                break
            response = auth_client.get(link)
        assert token == first.headers[TOKEN]
        # ...and the sync from the token the walk handed brings it.
        rows, _ = synced(auth_client, TODOS, token)
        replica.update((row["id"], row) for row in rows)
        assert replica[ids[0]]["title"] == "renamed"


class TestBadTokens:
    @pytest.fixture
    def token(self, auth_client):
        post(auth_client, TODOS, title="a")
        return token_of(auth_client, TODOS)

    def assert_refused(self, response, status: int, words: str):
        assert response.status_code == status, response.get_json()
        body = response.get_json()
        assert words in body["message"] and isinstance(body, dict)
        assert response.headers["Content-Type"].startswith("application/problem+json")

    @pytest.mark.parametrize("mangle", ["garbage", "truncated", "altered", "empty"])
    def test_a_token_this_api_did_not_issue_is_400(self, auth_client, token, mangle):
        bad = {
            "garbage": "not-a-token",
            "truncated": token[:-5],
            "altered": token[:3] + ("A" if token[3] != "A" else "B") + token[4:],
            "empty": "",
        }[mangle]
        self.assert_refused(since(auth_client, TODOS, bad), 400, "list again without since")

    def test_a_token_signed_with_another_key_is_400(self, auth_client, alice, token):
        forged = URLSafeSerializer("another secret", salt="sync-token").dumps(
            [alice.user.id, f"todos/{alice.user.id}", 1, 0, sync.today()]
        )
        self.assert_refused(since(auth_client, TODOS, forged), 400, "not one this API issued")

    def test_a_token_of_another_account_is_400(self, client, alice, bob):
        with client.login(bob):
            post(client, TODOS, title="bob's")
            bobs = token_of(client, TODOS)
        with client.login(alice):
            self.assert_refused(since(client, TODOS, bobs), 400, "another account")

    def test_a_token_of_another_list_is_400(self, auth_client, token):
        one = post(auth_client, BUCKETS, name="one")
        two = post(auth_client, BUCKETS, name="two")
        self.assert_refused(since(auth_client, BUCKETS, token), 400, "another list")
        ones = token_of(auth_client, items_of(one["id"]))
        self.assert_refused(since(auth_client, items_of(two["id"]), ones), 400, "another list")

    @pytest.mark.parametrize(
        "extra", [{"page": 2}, {"cursor": "x"}, {"sort": "title"}, {"done": "true"}, {"tag": "a"}]
    )
    def test_since_with_a_page_sort_or_filter_is_400(self, auth_client, token, extra):
        response = since(auth_client, TODOS, token, **extra)
        self.assert_refused(response, 400, "cannot be combined with " + next(iter(extra)))

    def test_a_token_older_than_the_retention_is_410(self, auth_client, token, monkeypatch, app):
        days = app.config["SYNC_RETENTION_DAYS"]
        today = sync.today()
        monkeypatch.setattr(sync, "today", lambda: today + days)
        assert since(auth_client, TODOS, token).status_code == 200
        monkeypatch.setattr(sync, "today", lambda: today + days + 1)
        self.assert_refused(since(auth_client, TODOS, token), 410, "Full sync required")


class TestRetention:
    def test_purging_a_tombstone_a_token_has_not_seen_makes_it_410(self, auth_client, runner):
        todo = post(auth_client, TODOS, title="a")
        old = token_of(auth_client, TODOS)
        auth_client.delete(f"{TODOS}{todo['id']}")
        after = token_of(auth_client, TODOS)
        result = runner.invoke(manage.cli, args=["sync-purge", "--days", "0"])
        assert result.exit_code == 0, result.output
        assert "1 tombstone" in result.output
        assert since(auth_client, TODOS, old).status_code == 410
        response = since(auth_client, TODOS, after)
        assert response.status_code == 200 and response.get_json() == []

    def test_writes_purge_expired_tombstones_a_batch_at_a_time(self, auth_client, app):
        app.config["SYNC_RETENTION_DAYS"] = 0
        token = token_of(auth_client, TODOS)
        created = [post(auth_client, TODOS, title=f"t{i}")["id"] for i in range(PURGE_EVERY)]
        tombstones = select(func.count()).select_from(SyncChange).where(SyncChange.deleted)
        for count, id in enumerate(created[:-1], start=1):
            auth_client.delete(f"{TODOS}{id}")
            assert db.session.scalar(tombstones) == count
        # The counter passes a multiple of PURGE_EVERY: the expired ones go, bar the new one.
        auth_client.delete(f"{TODOS}{created[-1]}")
        assert db.session.scalar(tombstones) == 1
        assert since(auth_client, TODOS, token).status_code == 410


class TestIdsAreNeverReused:
    """SQLite handed a deleted newest row's id out again (PostgreSQL never does): a token
    of a deleted list's items passed on the new list that got its id and its record's."""

    def test_a_deleted_row_s_id_is_not_handed_out_again(self, auth_client):
        for url, body in ((TODOS, {"title": "t"}), (BUCKETS, {"name": "b"})):
            first = post(auth_client, url, **body)["id"]
            assert auth_client.delete(f"{url}{first}").status_code == 204
            assert post(auth_client, url, **body)["id"] > first

    def test_a_token_of_a_deleted_list_s_items_is_gone_on_a_new_list(self, auth_client):
        bucket = post(auth_client, BUCKETS, name="old")["id"]
        post(auth_client, items_of(bucket), name="seen")
        token = token_of(auth_client, items_of(bucket))
        auth_client.delete(f"{BUCKETS}{bucket}")
        again = post(auth_client, BUCKETS, name="new")["id"]
        post(auth_client, items_of(again), name="a")
        post(auth_client, items_of(again), name="b")
        # The list's new id would make the token the new list's: it is not.
        response = since(auth_client, items_of(again), token)
        assert response.status_code in (400, 410), response.get_json()
