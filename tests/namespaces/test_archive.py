"""Taking your data with you: GET /auth/me/export and POST /auth/me/import."""

import json

import pytest
from sqlalchemy import func, select

from models import Bucket, Item, Member, Tag, Todo, db
from models.archive import FORMAT, VERSION
from tests.namespaces.test_account import rows_of

API = "/api/v1"
EXPORT = f"{API}/auth/me/export"
IMPORT = f"{API}/auth/me/import"
TODOS = f"{API}/todos/"
BUCKETS = f"{API}/bucketlists/"


def post(client, url, **body):
    response = client.post(url, json=body)
    assert response.status_code == 201, response.get_json().get("errors", response.get_json())
    return response.get_json()


def exported(client) -> dict:
    response = client.get(EXPORT)
    assert response.status_code == 200, response.data[:500]
    assert response.is_streamed
    assert response.mimetype == "application/json"
    assert response.headers["Content-Disposition"].startswith("attachment; filename=")
    return json.loads(response.get_data())


@pytest.fixture
def filled(client, alice, bob):
    """alice's account: three todos (tags, a due date, one done), a list shared with bob
    as an editor holding two items, and an empty list; bob has a list of his own."""
    with client.login(bob):
        post(client, BUCKETS, name="Bob's own")
    with client.login(alice):
        post(client, TODOS, title="Buy milk", tags=["Home", "errands"], priority=2)
        done = post(client, TODOS, title="File taxes", due_at="2026-04-30T12:00:00Z")
        client.patch(f"{TODOS}{done['id']}", json={"done": True})
        post(client, TODOS, title="Call mum", description="Sunday")
        trip = post(client, BUCKETS, name="Travel", description="Places")
        post(client, f"{BUCKETS}{trip['id']}/items/", name="See the aurora")
        post(client, f"{BUCKETS}{trip['id']}/items/", name="Walk the Camino", done=True)
        post(client, f"{BUCKETS}{trip['id']}/members/", email=bob.email, role="editor")
        post(client, BUCKETS, name="Empty")
    return alice


class TestExport:
    def test_holds_the_account_s_data_in_order_with_a_format_version(self, client, filled):
        with client.login(filled):
            document = exported(client)
        assert (document["format"], document["version"]) == (FORMAT, VERSION)
        assert document["account"] == {"email": filled.email}
        titles = [todo["title"] for todo in document["todos"]]
        assert titles == ["Buy milk", "File taxes", "Call mum"]
        milk, taxes, _ = document["todos"]
        assert milk["tags"] == ["errands", "Home"] and milk["priority"] == 2
        assert taxes["done"] is True and taxes["completed_at"]
        assert taxes["due_at"].startswith("2026-04-30T12:00:00")
        assert "id" not in milk and "position" not in milk
        travel, empty = document["bucketlists"]
        assert (travel["name"], empty["name"], empty["items"]) == ("Travel", "Empty", [])
        assert [item["name"] for item in travel["items"]] == ["See the aurora", "Walk the Camino"]
        assert travel["items"][1]["done"] is True
        # The owner is not a member to add: the account that imports owns the lists.
        assert [(m["email"], m["role"]) for m in travel["members"]] == [
            ("bob@example.com", "editor")
        ]

    def test_leaves_out_what_others_own_even_when_shared(self, client, filled, bob):
        with client.login(bob):
            document = exported(client)
        assert document["todos"] == []
        assert [bucket["name"] for bucket in document["bucketlists"]] == ["Bob's own"]

    def test_an_empty_account_exports_a_valid_document(self, client, alice):
        with client.login(alice):
            document = exported(client)
        assert (document["todos"], document["bucketlists"]) == ([], [])

    def test_needs_a_credential(self, client):
        assert client.get(EXPORT).status_code == 401


class TestImport:
    def test_a_round_trip_into_another_account(self, client, filled, make_account):
        with client.login(filled):
            document = exported(client)
        carol = make_account("carol@example.com")
        with client.login(carol):
            response = client.post(IMPORT, json=document)
            assert response.status_code == 201, response.get_json().get(
                "errors", response.get_json()
            )
            assert response.get_json() == {
                "todos": 3,
                "tags": 2,
                "bucketlists": 2,
                "items": 2,
                "members": 1,
                "members_skipped": [],
            }
            again = exported(client)
        for key in ("todos", "bucketlists"):
            assert strip_times(again[key]) == strip_times(document[key])
        # Kept: when each row was created, and done.
        assert [t["created_at"] for t in again["todos"]] == [
            t["created_at"] for t in document["todos"]
        ]
        assert again["todos"][1]["completed_at"] == document["todos"][1]["completed_at"]
        # Counts kept by the database and the shared list's member
        db.session.expire_all()
        assert rows_of(carol.user.id)["Todo"] == 3
        travel = db.session.scalars(select(Bucket).where(Bucket.user_id == carol.user.id)).first()
        assert (travel.item_count, travel.done_count) == (2, 1)
        roles = dict(
            db.session.execute(
                select(Member.user_id, Member.role).where(Member.bucket_id == travel.id)
            ).all()
        )
        assert sorted(roles.values()) == ["editor", "owner"]

    def test_adds_after_the_account_s_own_and_joins_its_tags(self, client, filled):
        with client.login(filled):
            document = exported(client)
            response = client.post(IMPORT, json=document)
            assert response.status_code == 201, response.get_json().get(
                "errors", response.get_json()
            )
            todos = client.get(TODOS + "?sort=position&per_page=100").get_json()
            tags = client.get(TODOS + "tags/").get_json()
        assert [todo["title"] for todo in todos] == ["Buy milk", "File taxes", "Call mum"] * 2
        assert {tag["name"]: tag["todo_count"] for tag in tags} == {"errands": 2, "Home": 2}
        # The importing account is not a member of its own lists; bob is added again.
        assert response.get_json()["members_skipped"] == []

    def test_members_without_an_account_are_skipped(self, client, alice, bob):
        document = archive(
            bucketlists=[
                {
                    "name": "Shared",
                    "members": [
                        {"email": "nobody@example.com", "role": "viewer"},
                        {"email": "BOB@example.com", "role": "viewer"},
                        {"email": alice.email, "role": "editor"},
                    ],
                }
            ]
        )
        with client.login(alice):
            response = client.post(IMPORT, json=document)
        assert response.status_code == 201, response.get_json().get("errors", response.get_json())
        body = response.get_json()
        assert body["members"] == 1
        assert body["members_skipped"] == [alice.email, "nobody@example.com"]
        with client.login(bob):
            shared = client.get(BUCKETS).get_json()
        assert [(b["name"], b["role"]) for b in shared] == [("Shared", "viewer")]

    def test_imported_rows_reach_sync_clients(self, client, alice):
        with client.login(alice):
            listed = client.get(TODOS)
            token = listed.headers["X-Sync-Token"]
            client.post(IMPORT, json=archive(todos=[{"title": "From elsewhere"}]))
            changes = client.get(f"{TODOS}?since={token}").get_json()
        assert [change["title"] for change in changes] == ["From elsewhere"]

    def test_an_idempotency_key_replays_instead_of_importing_twice(self, client, alice):
        document = archive(todos=[{"title": "Once"}])
        headers = {"Idempotency-Key": "import-1"}
        with client.login(alice):
            first = client.post(IMPORT, json=document, headers=headers)
            second = client.post(IMPORT, json=document, headers=headers)
        assert (first.status_code, second.status_code) == (201, 201)
        assert second.headers["Idempotent-Replayed"] == "true"
        assert rows_of(alice.user.id)["Todo"] == 1

    @pytest.mark.parametrize(
        ("document", "field", "words"),
        [
            ([], "body", "JSON object"),
            ({"version": 1}, "format", "not an export"),
            ({"format": "other", "version": 1}, "format", "not an export"),
            ({"format": FORMAT, "version": 2}, "version", "version 2"),
            ({"format": FORMAT}, "version", "None"),
            ({"format": FORMAT, "version": 1, "todos": [{"title": ""}]}, "todos.0.title", ""),
            ({"format": FORMAT, "version": 1, "todos": [{"description": "x"}]}, "todos.0", "title"),
            ({"format": FORMAT, "version": 1, "todos": [{"title": "t", "priority": 9}]},
             "todos.0.priority", "maximum"),
            ({"format": FORMAT, "version": 1, "todos": [{"title": "t", "tags": ["a"] * 21}]},
             "todos.0.tags", "too long"),
            ({"format": FORMAT, "version": 1,
              "todos": [{"title": "t", "created_at": "9999-12-31T23:59:59-01:00"}]},
             "todos.0.created_at", "date-time"),
            ({"format": FORMAT, "version": 1, "todos": [{"title": "t", "due_at": "tomorrow"}]},
             "todos.0.due_at", "date-time"),
            ({"format": FORMAT, "version": 1, "todos": {"title": "t"}}, "todos", "array"),
            ({"format": FORMAT, "version": 1,
              "bucketlists": [{"name": "b", "members": [{"email": "x@example.com",
                                                          "role": "owner"}]}]},
             "bucketlists.0.members.0.role", "['editor', 'viewer']"),
            ({"format": FORMAT, "version": 1, "bucketlists": [{"name": "b", "items": [{}]}]},
             "bucketlists.0.items.0", "name"),
        ],
    )  # fmt: skip
    def test_a_bad_document_is_a_400_that_changes_nothing(
        self, client, alice, document, field, words
    ):
        before = rows_of(alice.user.id)
        with client.login(alice):
            response = client.post(IMPORT, json=document)
        assert response.status_code == 400, response.get_json()
        errors = response.get_json()["errors"]
        assert field in errors and words in errors[field], errors
        assert rows_of(alice.user.id) == before

    def test_a_fault_late_in_the_document_leaves_nothing(self, client, alice):
        todos = [{"title": f"todo {n}"} for n in range(500)] + [{"title": "x" * 201}]
        with client.login(alice):
            response = client.post(IMPORT, json=archive(todos=todos))
        assert response.status_code == 400
        assert list(response.get_json()["errors"]) == ["todos.500.title"]
        assert rows_of(alice.user.id)["Todo"] == 0

    def test_a_failure_while_writing_rolls_everything_back(self, client, alice, monkeypatch):
        """Past the checks, anything that fails the write fails all of it: here the
        members' insert, the last one."""
        from models import archive as module

        def failing(*args, **kwargs):
            raise RuntimeError("the disk is full")

        monkeypatch.setattr(module, "_add_members", failing)
        document = archive(
            todos=[{"title": "t", "tags": ["new tag"]}],
            bucketlists=[{"name": "b", "items": [{"name": "i"}]}],
        )
        with client.login(alice):
            response = client.post(IMPORT, json=document)
        assert response.status_code == 500
        counts = {
            model.__name__: db.session.scalar(select(func.count()).select_from(model))
            for model in (Todo, Tag, Bucket, Item)
        }
        assert counts == {"Todo": 0, "Tag": 0, "Bucket": 0, "Item": 0}

    def test_the_body_may_be_larger_than_other_bodies(self, app, client, alice):
        limit = app.config["MAX_CONTENT_LENGTH"]
        todos = [{"title": "t", "description": "d" * 9000} for _ in range(limit // 9000 + 2)]
        document = archive(todos=todos)
        assert len(json.dumps(document)) > limit
        with client.login(alice):
            assert (
                client.post(TODOS, json={"title": "t", "description": "d" * limit}).status_code
                == 413
            )
            response = client.post(IMPORT, json=document)
        assert response.status_code == 201, response.get_json().get("errors", response.get_json())
        assert response.get_json()["todos"] == len(todos)

    def test_at_most_so_many_rows_and_members_in_one_import(self, client, alice, monkeypatch):
        monkeypatch.setattr("namespaces.archive.MAX_IMPORT_ROWS", 10)
        monkeypatch.setattr("namespaces.archive.MAX_IMPORT_MEMBERS", 3)
        too_many = archive(
            todos=[{"title": "t"}] * 6, bucketlists=[{"name": "b", "items": [{"name": "i"}] * 4}]
        )
        members = [{"email": f"m{n}@example.com", "role": "viewer"} for n in range(2)]
        crowded = archive(bucketlists=[{"name": "b", "members": members}] * 2)
        with client.login(alice):
            rows = client.post(IMPORT, json=too_many)
            people = client.post(IMPORT, json=crowded)
        assert rows.status_code == 400 and "at most 10 rows" in rows.get_json()["errors"]["body"]
        assert people.status_code == 400
        assert "at most 3 members" in people.get_json()["errors"]["bucketlists"]
        assert rows_of(alice.user.id) == {"Todo": 0, "Bucket": 0, "ApiKey": 1, "AccessToken": 0}

    def test_at_most_so_many_tags_in_one_import(self, client, alice, monkeypatch):
        """Tags are written too: 7,000 todos of 20 new tags each wrote for 25 s on SQLite,
        and other writers met a 503 meanwhile."""
        monkeypatch.setattr("namespaces.archive.MAX_IMPORT_TAGGINGS", 6)
        monkeypatch.setattr("namespaces.archive.MAX_IMPORT_TAGS", 4)
        taggings = archive(todos=[{"title": "t", "tags": ["a", "b"]}] * 4)
        distinct = archive(todos=[{"title": "t", "tags": ["A", "a", "b", "c", "d", "e"]}])
        folded = archive(todos=[{"title": "t", "tags": ["A", "a ", "b", "ss", "SS", "ß"]}])
        with client.login(alice):
            answers = [client.post(IMPORT, json=doc) for doc in (taggings, distinct)]
            fine = client.post(IMPORT, json=folded)
        assert [answer.status_code for answer in answers] == [400, 400]
        assert "at most 6 tags on todos" in answers[0].get_json()["errors"]["body"]
        assert "at most 4 distinct tags" in answers[1].get_json()["errors"]["body"]
        assert fine.status_code == 201, fine.get_json()
        assert fine.get_json()["tags"] == 3
        assert db.session.scalar(select(func.count()).select_from(Todo)) == 1

    @pytest.mark.slow
    def test_many_lists_in_one_import(self, client, alice):
        """More lists than one statement may bind values (65,535 on PostgreSQL): the sync
        record looks their members up in batches."""
        document = archive(bucketlists=[{"name": "b"}] * 70_000)
        with client.login(alice):
            response = client.post(IMPORT, json=document)
        assert response.status_code == 201, response.get_json()
        assert response.get_json()["bucketlists"] == 70_000

    def test_tags_longer_once_case_folded_are_kept(self, client, alice):
        """A 50-character tag may fold to 100 ("ß" and "ẞ" are "ss"): its key still fits."""
        tag = "ß" * 50
        with client.login(alice):
            response = client.post(IMPORT, json=archive(todos=[{"title": "t", "tags": [tag]}]))
            assert response.status_code == 201, response.get_json()
            created = client.post(TODOS, json={"title": "u", "tags": ["\u1e9e" * 50]})
            assert created.status_code == 201, created.get_json()
            tags = client.get(TODOS + "tags/").get_json()
        assert [(t["name"], t["todo_count"]) for t in tags] == [(tag, 2)]

    def test_a_body_over_the_import_limit_is_a_413(self, app, client, alice):
        app.config["MAX_IMPORT_LENGTH"] = 1000
        with client.login(alice):
            response = client.post(IMPORT, json=archive(todos=[{"title": "t" * 100}] * 20))
        assert response.status_code == 413
        assert rows_of(alice.user.id)["Todo"] == 0

    @pytest.mark.parametrize("spec", ["swagger.json", "openapi.json"])
    def test_the_spec_states_the_import_limit_and_no_conditional_export(self, client, spec):
        paths = client.get(f"{API}/{spec}").get_json()["paths"]
        assert (
            "MAX_IMPORT_LENGTH"
            in paths["/auth/me/import"]["post"]["responses"]["413"]["description"]
        )
        assert "MAX_CONTENT_LENGTH" in paths["/todos/"]["post"]["responses"]["413"]["description"]
        export = paths["/auth/me/export"]["get"]
        assert "304" not in export["responses"]
        assert "If-None-Match" not in {p["name"] for p in export.get("parameters", [])}

    def test_a_read_only_key_may_export_but_not_import(self, client, alice):
        with client.login(alice):
            key = client.post(f"{API}/auth/keys/", json={"name": "r", "scopes": ["read"]})
        headers = {"X-API-KEY": key.get_json()["key"]}
        with client.get(EXPORT, headers=headers) as allowed:
            assert allowed.status_code == 200
        refused = client.post(IMPORT, json=archive(), headers=headers)
        assert refused.status_code == 403


def archive(**content) -> dict:
    return {"format": FORMAT, "version": VERSION, **content}


def strip_times(rows):
    """The rows without what an import sets afresh (updated_at, added_at)."""
    if isinstance(rows, list):
        return [strip_times(row) for row in rows]
    if isinstance(rows, dict):
        return {k: strip_times(v) for k, v in rows.items() if k not in ("updated_at", "added_at")}
    return rows
