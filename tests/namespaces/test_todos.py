import re
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import func, insert, select

from api.policies import pagination
from models import Todo, db, utcnow

TODOS = "/api/v1/todos/"


def todo_url(id) -> str:
    return f"{TODOS}{id}"


def create(client, **fields):
    body = {"title": "Buy milk", **fields}
    response = client.post(TODOS, json=body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def count_todos() -> int:
    return db.session.scalar(select(func.count()).select_from(Todo))


def links(response) -> dict:
    """rel -> URL from an RFC 8288 Link header."""
    found = re.findall(r'<([^>]+)>; rel="(\w+)"', response.headers.get("Link", ""))
    return {rel: url for url, rel in found}


def relative(url: str) -> str:
    parts = urlsplit(url)
    assert parts.scheme == "http" and parts.netloc == "localhost"
    return f"{parts.path}?{parts.query}"


class TestCrud:
    def test_create(self, auth_client):
        response = auth_client.post(TODOS, json={"title": "Buy milk"})
        assert response.status_code == 201
        body = response.get_json()
        assert set(body) == {
            "id", "title", "description", "done", "created_at", "updated_at", "uri",
            "due_at", "priority", "tags", "completed_at", "position",
        }  # fmt: skip
        assert body["description"] == "" and body["done"] is False
        assert body["uri"] == f"http://localhost/api/v1/todos/{body['id']}"
        assert response.headers["Location"] == body["uri"]
        assert body["created_at"].endswith("+00:00")

    def test_get(self, auth_client):
        created = create(auth_client, description="Semi-skimmed", done=True)
        response = auth_client.get(todo_url(created["id"]))
        assert response.status_code == 200
        assert response.get_json() == created

    def test_put_replaces_the_whole_todo(self, auth_client):
        created = create(auth_client, description="old", done=True)
        response = auth_client.put(todo_url(created["id"]), json={"title": "New"})
        assert response.status_code == 200
        body = response.get_json()
        assert (body["title"], body["description"], body["done"]) == ("New", "", False)
        assert body["created_at"] == created["created_at"]
        assert body["updated_at"] >= created["updated_at"]

    def test_put_requires_a_title(self, auth_client):
        created = create(auth_client)
        response = auth_client.put(todo_url(created["id"]), json={"done": True})
        assert response.status_code == 400
        assert "title" in response.get_json()["errors"]

    def test_patch_changes_only_the_given_fields(self, auth_client):
        created = create(auth_client, description="keep me")
        response = auth_client.patch(todo_url(created["id"]), json={"done": True})
        assert response.status_code == 200
        body = response.get_json()
        assert body["done"] is True
        assert (body["title"], body["description"]) == ("Buy milk", "keep me")
        assert auth_client.get(todo_url(created["id"])).get_json()["done"] is True

    def test_empty_patch_changes_nothing(self, auth_client):
        created = create(auth_client)
        body = auth_client.patch(todo_url(created["id"]), json={}).get_json()
        assert {k: body[k] for k in ("title", "description", "done")} == {
            k: created[k] for k in ("title", "description", "done")
        }

    @pytest.mark.parametrize("field", ["title", "done"])
    def test_patch_rejects_null(self, auth_client, field):
        created = create(auth_client)
        response = auth_client.patch(todo_url(created["id"]), json={field: None})
        assert response.status_code == 400
        assert field in response.get_json()["errors"]
        assert auth_client.get(todo_url(created["id"])).get_json() == created

    def test_delete(self, auth_client):
        created = create(auth_client)
        response = auth_client.delete(todo_url(created["id"]))
        assert response.status_code == 204
        assert response.data == b""
        assert auth_client.get(todo_url(created["id"])).status_code == 404
        assert count_todos() == 0

    @pytest.mark.parametrize("method", ["get", "put", "patch", "delete"])
    def test_missing_todo_is_404(self, auth_client, method):
        response = getattr(auth_client, method)(todo_url(12345), json={"title": "x"})
        assert response.status_code == 404
        assert response.get_json()["message"] == "Todo 12345 not found."

    @pytest.mark.parametrize("id", ["99999999999999999999999", "-1", "abc"])
    def test_unusable_ids_are_404(self, auth_client, id):
        assert auth_client.get(todo_url(id)).status_code == 404


BAD_BODIES = [
    ({}, "title"),
    ({"title": ""}, "title"),
    ({"title": "   "}, "title"),
    # Blank in Python (\x1f) or in ECMA-262 (\ufeff) alone: blank for the spec and the API.
    ({"title": "\x1f\u3000"}, "title"),
    ({"title": "\ufeff"}, "title"),
    ({"title": "x" * 201}, "title"),
    ({"title": 5}, "title"),
    ({"title": None}, "title"),
    ({"title": "ok", "done": "yes"}, "done"),
    ({"title": "ok", "done": 1}, "done"),
    ({"title": "ok", "description": "x" * 10001}, "description"),
    ({"title": "ok", "description": ["a"]}, "description"),
]


class TestValidation:
    @pytest.mark.parametrize(("body", "field"), BAD_BODIES)
    @pytest.mark.parametrize("method", ["post", "put"])
    def test_bad_bodies_are_400_and_change_nothing(self, auth_client, body, field, method):
        if method == "post":
            response = auth_client.post(TODOS, json=body)
            assert count_todos() == 0
        else:
            created = create(auth_client)
            response = auth_client.put(todo_url(created["id"]), json=body)
            assert auth_client.get(todo_url(created["id"])).get_json() == created
        assert response.status_code == 400
        assert response.get_json()["message"]
        assert field in response.get_json()["errors"]

    @pytest.mark.parametrize("body", [[], "title", 5])
    def test_body_must_be_an_object(self, auth_client, body):
        assert auth_client.post(TODOS, json=body).status_code == 400
        assert count_todos() == 0

    def test_edges_of_the_limits_are_accepted(self, auth_client):
        created = create(auth_client, title="x" * 200, description="d" * 10000)
        assert len(created["title"]) == 200


def seed_todos(user_id: int, titles: list[str], done_every: int = 0) -> None:
    db.session.add_all(
        Todo(user_id=user_id, title=t, done=bool(done_every and i % done_every == 0))
        for i, t in enumerate(titles)
    )
    db.session.commit()


def bulk_todos(user_id: int, n: int) -> None:
    """`todo 00`, `todo 01`... with Core in one statement, every other one done."""
    now = utcnow()
    rows = [
        {"user_id": user_id, "title": f"todo {i:02}", "description": "", "done": i % 2 == 0,
         "created_at": now, "updated_at": now}
        for i in range(n)
    ]  # fmt: skip
    db.session.execute(insert(Todo), rows)
    db.session.commit()


class TestLists:
    def test_default_page(self, auth_client, alice):
        seed_todos(alice.user.id, [f"todo {i:02}" for i in range(25)])
        response = auth_client.get(TODOS)
        assert response.status_code == 200
        body = response.get_json()
        assert isinstance(body, list) and len(body) == 20
        assert response.headers["X-Total-Count"] == "25"
        assert [t["title"] for t in body] == [f"todo {i:02}" for i in range(20)]

    def test_link_header(self, auth_client, alice):
        seed_todos(alice.user.id, [f"t{i}" for i in range(25)])
        first = auth_client.get(TODOS + "?per_page=10&done=false")
        rels = links(first)
        assert set(rels) == {"first", "next", "last"}
        for url in rels.values():
            assert url.startswith("http://localhost/api/v1/todos/?")
            assert parse_qs(urlsplit(url).query)["per_page"] == ["10"]
            assert parse_qs(urlsplit(url).query)["done"] == ["false"]
        second = auth_client.get(relative(rels["next"]))
        assert set(links(second)) == {"first", "prev", "next", "last"}
        assert [t["title"] for t in second.get_json()] == [f"t{i}" for i in range(10, 20)]
        last = auth_client.get(relative(links(second)["last"]))
        assert [t["title"] for t in last.get_json()] == [f"t{i}" for i in range(20, 25)]
        assert set(links(last)) == {"first", "prev", "last"}
        back = auth_client.get(relative(links(last)["prev"]))
        assert [t["title"] for t in back.get_json()] == [f"t{i}" for i in range(10, 20)]
        first_again = auth_client.get(relative(links(second)["first"]))
        assert first_again.get_json() == first.get_json()

    def test_a_filtered_list_counts_up_to_the_count_limit(self, auth_client, alice, monkeypatch):
        monkeypatch.setattr(pagination, "COUNT_LIMIT", 5)
        seed_todos(alice.user.id, [f"t{i}" for i in range(8)], done_every=8)  # t0 is done
        at_limit = auth_client.get(TODOS + "?per_page=3&done=true&q=t")
        assert at_limit.headers["X-Total-Count"] == "1"
        past = auth_client.get(TODOS + "?per_page=3&done=false")
        # Seven match: more than the limit, so neither the total nor the last page is told.
        assert "X-Total-Count" not in past.headers
        assert set(links(past)) == {"first", "next"}
        assert walk(auth_client, "done=false") == listed(auth_client, "done=false&per_page=100")
        page3 = auth_client.get(TODOS + "?per_page=3&done=false&page=3")
        assert [t["title"] for t in page3.get_json()] == ["t7"]
        assert "X-Total-Count" not in page3.headers and "next" not in links(page3)
        # The unfiltered list's count is kept by the database: always told.
        assert auth_client.get(TODOS + "?per_page=3").headers["X-Total-Count"] == "8"

    def test_one_tag_tells_the_count_the_database_keeps_whatever_its_size(
        self, auth_client, monkeypatch
    ):
        monkeypatch.setattr(pagination, "COUNT_LIMIT", 2)
        for number in range(4):
            create(auth_client, title=f"t{number}", tags=["Home"] if number else ["car"])
        tagged = auth_client.get(TODOS + "?per_page=2&tag=home")
        assert tagged.headers["X-Total-Count"] == "3"
        assert "last" in links(tagged)
        assert auth_client.get(TODOS + "?tag=nothing").headers["X-Total-Count"] == "0"
        # With another filter the count is a COUNT again, up to the limit.
        both = auth_client.get(TODOS + "?tag=home&done=false")
        assert "X-Total-Count" not in both.headers and len(both.get_json()) == 3

    @pytest.mark.parametrize("sort", ["priority", "-priority", "due_at", "-due_at"])
    def test_cursors_cross_runs_of_equal_sort_values_both_ways(self, auth_client, sort):
        for number in range(9):
            due = None if number % 3 == 0 else f"2026-12-{1 + number % 2:02}T00:00:00Z"
            create(auth_client, title=f"t{number}", priority=number % 2, due_at=due)
        everything = listed(auth_client, f"sort={sort}")
        assert walk(auth_client, f"sort={sort}", per_page=2) == everything
        # Back from the last page along `prev`, the same rows in the same order.
        page = auth_client.get(f"{TODOS}?per_page=2&sort={sort}")
        page = auth_client.get(relative(links(page)["last"]))
        seen = [todo["id"] for todo in page.get_json()]
        while "prev" in links(page):
            page = auth_client.get(relative(links(page)["prev"]))
            seen = [todo["id"] for todo in page.get_json()] + seen
        assert seen == everything

    def test_page_numbers(self, auth_client, alice):
        seed_todos(alice.user.id, [f"t{i}" for i in range(25)])
        page3 = auth_client.get(TODOS + "?per_page=10&page=3").get_json()
        assert [t["title"] for t in page3] == [f"t{i}" for i in range(20, 25)]

    def test_a_page_past_the_end_is_empty(self, auth_client, alice):
        seed_todos(alice.user.id, ["only"])
        response = auth_client.get(TODOS + "?page=5")
        assert response.status_code == 200
        assert response.get_json() == []
        assert response.headers["X-Total-Count"] == "1"
        assert "prev" in links(response)

    def test_an_empty_list(self, auth_client):
        response = auth_client.get(TODOS)
        assert response.get_json() == []
        assert response.headers["X-Total-Count"] == "0"
        assert auth_client.get(relative(links(response)["last"])).get_json() == []

    @pytest.mark.parametrize(
        "query",
        [
            "page=0", "page=-1", "page=x", "per_page=0", "per_page=101", "per_page=x",
            "sort=owner", "sort=--id", "done=maybe", "cursor=garbage",
        ],
    )  # fmt: skip
    def test_bad_arguments_are_400(self, auth_client, query):
        response = auth_client.get(f"{TODOS}?{query}")
        assert response.status_code == 400
        assert response.get_json()["message"]

    def test_a_cursor_for_another_sort_is_400(self, auth_client, alice):
        seed_todos(alice.user.id, [f"t{i}" for i in range(5)])
        next_url = links(auth_client.get(TODOS + "?per_page=2&sort=title"))["next"]
        response = auth_client.get(relative(next_url).replace("sort=title", "sort=-id"))
        assert response.status_code == 400

    def test_filter_done(self, auth_client, alice):
        seed_todos(alice.user.id, [f"t{i}" for i in range(6)], done_every=2)
        done = auth_client.get(TODOS + "?done=true")
        assert [t["title"] for t in done.get_json()] == ["t0", "t2", "t4"]
        assert done.headers["X-Total-Count"] == "3"
        assert [t["title"] for t in auth_client.get(TODOS + "?done=false").get_json()] == [
            "t1", "t3", "t5"
        ]  # fmt: skip

    def test_filter_q_is_a_case_insensitive_substring(self, auth_client, alice):
        seed_todos(alice.user.id, ["Buy MILK", "milkshake", "bread", "100% done", "a_b"])
        titles = [t["title"] for t in auth_client.get(TODOS + "?q=Milk").get_json()]
        assert titles == ["Buy MILK", "milkshake"]
        assert [t["title"] for t in auth_client.get(TODOS + "?q=%25").get_json()] == ["100% done"]
        assert [t["title"] for t in auth_client.get(TODOS + "?q=_").get_json()] == ["a_b"]

    @pytest.mark.parametrize(
        ("sort", "expected"),
        [
            ("id", ["b", "c", "a"]),
            ("-id", ["a", "c", "b"]),
            ("title", ["a", "b", "c"]),
            ("-title", ["c", "b", "a"]),
            ("created_at", ["b", "c", "a"]),
            ("-created_at", ["a", "c", "b"]),
        ],
    )
    def test_sort(self, auth_client, alice, sort, expected):
        for title in ["b", "c", "a"]:
            create(auth_client, title=title)
        response = auth_client.get(f"{TODOS}?sort={sort}")
        assert [t["title"] for t in response.get_json()] == expected

    @pytest.mark.parametrize("sort", ["id", "-id", "title", "-title", "created_at", "-created_at"])
    def test_walking_next_visits_every_row_once(self, auth_client, alice, sort):
        titles = [f"{'abc'[i % 3]}-{i:03}" for i in range(47)]
        seed_todos(alice.user.id, titles)
        seen, url, pages = [], f"{TODOS}?per_page=10&sort={sort}", 0
        while url and pages < 20:
            response = auth_client.get(url)
            seen += [t["id"] for t in response.get_json()]
            url = relative(links(response)["next"]) if "next" in links(response) else None
            pages += 1
            if pages == 2:
                seed_todos(alice.user.id, ["zzz-added", "aaa-added"])
        original = db.session.scalars(select(Todo.id).where(Todo.title.not_like("%added"))).all()
        assert len(seen) == len(set(seen))
        assert set(original) <= set(seen)

    def test_ties_in_the_sort_key_are_broken_by_id(self, auth_client, alice):
        seed_todos(alice.user.id, ["same"] * 7)
        seen, url = [], f"{TODOS}?per_page=3&sort=title"
        for _ in range(5):
            response = auth_client.get(url)
            seen += [t["id"] for t in response.get_json()]
            if "next" not in links(response):
                break
            url = relative(links(response)["next"])
        assert seen == sorted(seen) and len(seen) == 7

    def test_next_pages_continue_by_keyset_not_offset(self, auth_client, alice, statements):
        seed_todos(alice.user.id, [f"t{i}" for i in range(30)])
        next_url = links(auth_client.get(TODOS + "?per_page=10"))["next"]
        last_url = links(auth_client.get(TODOS + "?per_page=10"))["last"]
        for url in (next_url, last_url):
            with statements.capture():
                assert len(auth_client.get(relative(url)).get_json()) == 10
            [page_query] = [
                s for s in statements.selects if "FROM todos" in s and "count(" not in s
            ]
            assert statements.skipped_rows(page_query) == 0


class TestTotals:
    """`X-Total-Count` of the whole list is the count the database keeps, right after writes."""

    def total(self, client, query: str = "") -> int:
        return int(client.get(TODOS + query).headers["X-Total-Count"])

    def test_the_total_follows_every_write(self, auth_client, alice, bob, client):
        ids = [create(auth_client, title=f"t{i}")["id"] for i in range(3)]
        assert self.total(auth_client) == 3
        auth_client.put(todo_url(ids[0]), json={"title": "x"})
        auth_client.patch(todo_url(ids[1]), json={"done": True})
        assert self.total(auth_client) == 3
        auth_client.delete(todo_url(ids[2]))
        assert self.total(auth_client) == 2
        bulk_todos(bob.user.id, 30)
        assert self.total(auth_client) == 2
        with client.login(bob):
            assert self.total(client) == 30

    def test_filtered_lists_count_the_filtered_rows(self, auth_client, alice):
        bulk_todos(alice.user.id, 30)
        assert self.total(auth_client, "?done=true") == 15
        assert self.total(auth_client, "?q=todo 0") == 10
        assert self.total(auth_client, "?q=todo 0&done=false") == 5

    def test_only_a_filtered_list_runs_a_count(self, auth_client, alice, statements):
        bulk_todos(alice.user.id, 30)
        with statements.capture():
            auth_client.get(TODOS)
        assert not any("count(" in s.lower() for s in statements)
        with statements.capture():
            auth_client.get(TODOS + "?done=false")
        assert sum("count(" in s.lower() for s in statements) == 1


class TestMasks:
    def test_header_mask_on_a_list(self, auth_client):
        create(auth_client)
        response = auth_client.get(TODOS, headers={"X-Fields": "{id,title}"})
        assert [set(t) for t in response.get_json()] == [{"id", "title"}]

    @pytest.mark.parametrize("mask", ["{id,title}", "id,title", "id, title"])
    def test_query_parameter_mask(self, auth_client, mask):
        created = create(auth_client)
        response = auth_client.get(todo_url(created["id"]), query_string={"fields": mask})
        assert response.get_json() == {"id": created["id"], "title": "Buy milk"}

    def test_the_header_wins_over_the_parameter(self, auth_client):
        created = create(auth_client)
        response = auth_client.get(
            todo_url(created["id"]) + "?fields=title", headers={"X-Fields": "id"}
        )
        assert response.get_json() == {"id": created["id"]}

    def test_star_mask(self, auth_client):
        created = create(auth_client)
        assert auth_client.get(todo_url(created["id"]), headers={"X-Fields": "*"}).get_json() == (
            created
        )

    def test_masks_apply_to_writes(self, auth_client):
        response = auth_client.post(TODOS, json={"title": "x"}, headers={"X-Fields": "{uri}"})
        assert response.status_code == 201
        assert set(response.get_json()) == {"uri"}

    @pytest.mark.parametrize("mask", ["{id", "id}", "{id,,title}", "{title{x}}", "{nothing}"])
    def test_bad_masks_are_400(self, auth_client, mask):
        create(auth_client)
        for response in (
            auth_client.get(TODOS, headers={"X-Fields": mask}),
            auth_client.get(TODOS, query_string={"fields": mask}),
        ):
            assert response.status_code == 400
            assert response.is_json and response.get_json()["message"]

    @pytest.mark.parametrize("mask", ["{id", "{title{x}}"])
    def test_a_write_with_a_bad_mask_changes_nothing(self, auth_client, mask):
        response = auth_client.post(TODOS, json={"title": "x"}, headers={"X-Fields": mask})
        assert response.status_code == 400
        assert count_todos() == 0
        created = create(auth_client)
        response = auth_client.patch(
            todo_url(created["id"]), json={"title": "changed"}, headers={"X-Fields": mask}
        )
        assert response.status_code == 400
        assert auth_client.get(todo_url(created["id"])).get_json()["title"] == "Buy milk"

    def test_the_spec_documents_masks_on_every_marshalled_operation(self, client):
        spec = client.get("/api/v1/swagger.json").get_json()
        for path, item in spec["paths"].items():
            for method, op in item.items():
                if (
                    method == "parameters"
                    or "200" not in op["responses"]
                    and "201" not in (op["responses"])
                ):
                    continue
                if not any("schema" in r for r in op["responses"].values()):
                    continue
                success = op["responses"].get("200") or op["responses"]["201"]
                if "Content-Disposition" in success.get("headers", {}):
                    continue  # a file to download (the account's export), not a resource
                names = {p["name"] for p in op.get("parameters", [])}
                assert {"X-Fields", "fields"} <= names, (method, path)

    @pytest.mark.parametrize("url", ["list", "one"])
    def test_columns_the_mask_leaves_out_are_not_loaded(self, auth_client, statements, url):
        created = create(auth_client, description="a long description")
        path = TODOS if url == "list" else todo_url(created["id"])
        with statements.capture():
            auth_client.get(path, headers={"X-Fields": "{id,title}"})
        todo_selects = [s for s in statements.selects if "FROM todos" in s and "count(" not in s]
        assert todo_selects
        for statement in todo_selects:
            assert "todos.title" in statement
            assert "todos.description" not in statement and "todos.updated_at" not in statement
        with statements.capture():
            auth_client.get(path)
        assert any("todos.description" in s for s in statements.selects)


# The task model: due dates, priority, tags, completion time and manual order.

TAGS = f"{TODOS}tags/"


def move(client, todo, after, **headers):
    return client.post(f"{todo_url(todo['id'])}/move", json={"after": after}, headers=headers)


def listed(client, query: str) -> list[int]:
    response = client.get(f"{TODOS}?per_page=100&{query}")
    assert response.status_code == 200, response.get_json()
    return [todo["id"] for todo in response.get_json()]


def walk(client, query: str, per_page: int = 3) -> list[int]:
    """Every id a walk along the `next` links of a list shows, in order."""
    seen, url = [], f"{TODOS}?per_page={per_page}&{query}"
    for _ in range(50):
        response = client.get(url)
        assert response.status_code == 200, response.get_json()
        seen += [todo["id"] for todo in response.get_json()]
        if "next" not in links(response):
            return seen
        url = relative(links(response)["next"])
    raise AssertionError("the walk did not end")


def names_field(response, field: str) -> bool:
    """Whether a 400's errors name `field` (or one of its elements, as `tags.0`)."""
    return any(key.split(".")[0] == field for key in response.get_json()["errors"])


class TestTaskFields:
    def test_due_at_takes_any_offset_and_answers_in_utc(self, auth_client):
        created = create(auth_client, due_at="2026-12-24T18:00:00+01:00")
        assert created["due_at"] == "2026-12-24T17:00:00+00:00"
        assert auth_client.get(todo_url(created["id"])).get_json()["due_at"] == created["due_at"]

    def test_defaults(self, auth_client):
        created = create(auth_client)
        assert (created["due_at"], created["priority"], created["tags"]) == (None, 0, [])
        assert created["completed_at"] is None

    def test_tags_are_trimmed_and_compared_whatever_the_case(self, auth_client):
        first = create(auth_client, tags=[" Home ", "errands", "HOME"])
        assert first["tags"] == ["errands", "Home"]
        # The account's tag keeps the spelling it was first written with.
        second = create(auth_client, tags=["home"])
        assert second["tags"] == ["Home"]

    def test_completed_at_follows_done(self, auth_client):
        created = create(auth_client)
        done = auth_client.patch(todo_url(created["id"]), json={"done": True}).get_json()
        assert done["completed_at"] is not None
        again = auth_client.patch(todo_url(created["id"]), json={"done": True}).get_json()
        assert again["completed_at"] == done["completed_at"]
        reopened = auth_client.patch(todo_url(created["id"]), json={"done": False}).get_json()
        assert reopened["completed_at"] is None

    def test_completed_at_and_position_cannot_be_set(self, auth_client):
        created = create(auth_client, completed_at="2020-01-01T00:00:00Z", position="0")
        assert created["completed_at"] is None and created["position"] != "0"

    def test_a_new_todo_goes_last(self, auth_client):
        ids = [create(auth_client, title=f"t{i}")["id"] for i in range(4)]
        assert listed(auth_client, "sort=position") == ids
        assert listed(auth_client, "sort=-position") == ids[::-1]

    @pytest.mark.parametrize(
        ("field", "value"),
        [
            ("due_at", "2026-12-24"),
            ("due_at", "2026-12-24T18:00:00"),
            ("due_at", "tomorrow"),
            # Valid RFC 3339, but past the last year once in UTC, or before the first.
            ("due_at", "9999-12-31T23:59:59-01:00"),
            ("due_at", "0001-01-01T00:00:00+01:00"),
            ("due_at", 20261224),
            ("priority", 4),
            ("priority", -1),
            ("priority", "high"),
            ("tags", ["x" * 51]),
            ("tags", [f"t{i}" for i in range(21)]),
            ("tags", ["   "]),
            ("tags", ["\ufeff\u00a0"]),
            ("tags", "home"),
        ],
    )
    def test_bad_fields_are_400_naming_the_field_and_change_nothing(
        self, auth_client, field, value
    ):
        created = create(auth_client)
        for method, url in (("post", TODOS), ("put", todo_url(created["id"]))):
            body = {"title": "Changed", field: value}
            response = getattr(auth_client, method)(url, json=body)
            assert response.status_code == 400, (method, response.get_json())
            assert names_field(response, field)
        response = auth_client.patch(todo_url(created["id"]), json={field: value})
        assert response.status_code == 400
        assert names_field(response, field)
        assert count_todos() == 1
        assert auth_client.get(todo_url(created["id"])).get_json() == created
        assert auth_client.get(TAGS).get_json() == []

    def test_edges_are_accepted(self, auth_client):
        tags = ["x" * 50, *(f"t{i}" for i in range(19))]
        created = create(auth_client, priority=3, tags=tags, due_at="2026-01-01T00:00:00Z")
        assert created["priority"] == 3 and len(created["tags"]) == 20

    def test_null_due_at_is_no_due_date_on_create_and_replace(self, auth_client):
        created = create(auth_client, due_at=None)
        assert created["due_at"] is None
        dated = create(auth_client, due_at="2026-12-24T18:00:00Z")
        replaced = auth_client.put(todo_url(dated["id"]), json={"title": "x", "due_at": None})
        assert replaced.status_code == 200, replaced.get_json()
        assert replaced.get_json()["due_at"] is None

    def test_null_on_other_fields_of_a_create_is_400_naming_them(self, auth_client):
        for field in ("title", "description", "done", "priority", "tags"):
            response = auth_client.post(TODOS, json={"title": "x", field: None})
            assert response.status_code == 400
            assert field in response.get_json()["errors"]
        assert auth_client.get(TODOS).get_json() == []


class TestMergePatch:
    def test_null_clears_optional_fields(self, auth_client):
        created = create(
            auth_client, description="d", due_at="2026-12-24T18:00:00Z", tags=["a"], priority=2
        )
        body = {"description": None, "due_at": None, "tags": None, "priority": None}
        patched = auth_client.patch(todo_url(created["id"]), json=body).get_json()
        assert (patched["description"], patched["due_at"], patched["tags"]) == ("", None, [])
        assert patched["priority"] == 0
        assert patched["title"] == created["title"]

    def test_members_left_out_are_kept(self, auth_client):
        created = create(auth_client, due_at="2026-12-24T18:00:00Z", tags=["a"], priority=2)
        patched = auth_client.patch(todo_url(created["id"]), json={"title": "New"}).get_json()
        assert patched["title"] == "New"
        kept = ("due_at", "tags", "priority", "description", "done")
        assert {k: patched[k] for k in kept} == {k: created[k] for k in kept}

    def test_the_merge_patch_media_type_is_accepted(self, auth_client):
        created = create(auth_client, due_at="2026-12-24T18:00:00Z")
        response = auth_client.patch(
            todo_url(created["id"]),
            data='{"due_at": null, "priority": 1}',
            content_type="application/merge-patch+json",
        )
        assert response.status_code == 200, response.get_json()
        assert (response.get_json()["due_at"], response.get_json()["priority"]) == (None, 1)

    def test_a_patch_that_is_not_an_object_is_400(self, auth_client):
        created = create(auth_client)
        response = auth_client.patch(todo_url(created["id"]), json=["title"])
        assert response.status_code == 400
        assert auth_client.get(todo_url(created["id"])).get_json() == created

    def test_changing_tags_is_a_new_version(self, auth_client):
        created = create(auth_client, tags=["a"])
        tag = auth_client.get(todo_url(created["id"])).headers["ETag"]
        patched = auth_client.patch(todo_url(created["id"]), json={"tags": ["b"]})
        assert patched.get_json()["tags"] == ["b"]
        assert patched.get_json()["updated_at"] > created["updated_at"]
        stale = auth_client.patch(
            todo_url(created["id"]), json={"tags": ["c"]}, headers={"If-Match": tag}
        )
        assert stale.status_code == 412


class TestFiltersAndSorts:
    @pytest.fixture
    def todos(self, auth_client):
        past, future = "2020-01-01T00:00:00Z", "2999-01-01T00:00:00Z"
        return {
            "late": create(auth_client, title="late", due_at=past, priority=3, tags=["home"]),
            "late_done": create(auth_client, title="late done", due_at=past, done=True),
            "soon": create(auth_client, title="soon", due_at=future, tags=["Home", "car"]),
            "never": create(auth_client, title="never", priority=1, tags=["car"]),
            "never2": create(auth_client, title="never again", priority=3),
        }

    def ids(self, todos, *names):
        return [todos[name]["id"] for name in names]

    def test_due_before_and_after(self, auth_client, todos):
        assert listed(auth_client, "due_before=2500-01-01T00:00:00Z") == self.ids(
            todos, "late", "late_done"
        )
        assert listed(auth_client, "due_after=2500-01-01T00:00:00%2B02:00") == self.ids(
            todos, "soon"
        )

    def test_overdue_is_open_and_past_due(self, auth_client, todos):
        assert listed(auth_client, "overdue=true") == self.ids(todos, "late")

    def test_priority(self, auth_client, todos):
        assert listed(auth_client, "priority=3") == self.ids(todos, "late", "never2")

    def test_every_tag_named_must_match_whatever_the_case(self, auth_client, todos):
        assert listed(auth_client, "tag=HOME") == self.ids(todos, "late", "soon")
        assert listed(auth_client, "tag=home&tag=car") == self.ids(todos, "soon")
        assert listed(auth_client, "tag=nothing") == []

    def test_filters_combine(self, auth_client, todos):
        assert listed(auth_client, "tag=car&priority=1&done=false&q=NEV") == self.ids(
            todos, "never"
        )
        response = auth_client.get(f"{TODOS}?tag=car&priority=1")
        assert response.headers["X-Total-Count"] == "1"

    def test_due_at_sorts_undated_todos_last_both_ways(self, auth_client, todos):
        assert listed(auth_client, "sort=due_at") == self.ids(
            todos, "late", "late_done", "soon", "never", "never2"
        )
        assert listed(auth_client, "sort=-due_at") == self.ids(
            todos, "soon", "late_done", "late", "never2", "never"
        )

    @pytest.mark.parametrize("sort", ["due_at", "-due_at", "priority", "-priority", "position"])
    def test_walking_next_under_each_new_sort_matches_the_full_list(self, auth_client, todos, sort):
        assert walk(auth_client, f"sort={sort}", per_page=2) == listed(auth_client, f"sort={sort}")
        assert walk(auth_client, f"sort={sort}&tag=car", per_page=1) == listed(
            auth_client, f"sort={sort}&tag=car"
        )

    @pytest.mark.parametrize(
        "query",
        [
            "due_before=2026-01-01",
            "due_after=2026-01-01T00:00:00",
            "due_before=soon",
            "overdue=maybe",
            "overdue=false",
            "overdue=1",
            "priority=4",
            "tag=",
            "tag=%EF%BB%BF%20",
            "tag=" + "x" * 51,
            "tag=%20" + "x" * 50,
            "sort=due",
        ],
    )
    def test_bad_arguments_are_400_naming_them(self, auth_client, todos, query):
        response = auth_client.get(f"{TODOS}?{query}")
        assert response.status_code == 400
        name = query.partition("=")[0]
        assert name in response.get_json()["errors"]

    def test_tags_never_cross_accounts(self, auth_client, todos, client, bob):
        response = client.post(TODOS, json={"title": "b", "tags": ["home"]}, headers=bob.headers)
        assert response.status_code == 201
        assert listed(auth_client, "tag=home") == self.ids(todos, "late", "soon")
        bobs = client.get(f"{TODOS}?tag=home", headers=bob.headers).get_json()
        assert [todo["title"] for todo in bobs] == ["b"]


class TestTags:
    def test_tags_with_counts_sorted_by_name(self, auth_client, client, bob):
        create(auth_client, tags=["home", "Car"])
        create(auth_client, tags=["HOME"])
        client.post(TODOS, json={"title": "b", "tags": ["bobs"]}, headers=bob.headers)
        response = auth_client.get(TAGS)
        assert response.get_json() == [
            {"name": "Car", "todo_count": 1},
            {"name": "home", "todo_count": 2},
        ]
        assert response.headers["X-Total-Count"] == "2"

    def test_counts_follow_changes_and_unused_tags_go(self, auth_client):
        first = create(auth_client, tags=["a", "b"])
        create(auth_client, tags=["b"])
        auth_client.patch(todo_url(first["id"]), json={"tags": ["b"]})
        assert auth_client.get(TAGS).get_json() == [{"name": "b", "todo_count": 2}]
        auth_client.delete(todo_url(first["id"]))
        assert auth_client.get(TAGS).get_json() == [{"name": "b", "todo_count": 1}]

    def test_tags_are_paginated(self, auth_client):
        create(auth_client, tags=[f"t{i:02}" for i in range(5)])
        response = auth_client.get(f"{TAGS}?per_page=2")
        assert [tag["name"] for tag in response.get_json()] == ["t00", "t01"]
        following = auth_client.get(relative(links(response)["next"])).get_json()
        assert [tag["name"] for tag in following] == ["t02", "t03"]


class TestMove:
    def test_move_after_another_and_to_the_front(self, auth_client):
        a, b, c, d = (create(auth_client, title=t) for t in "abcd")
        moved = move(auth_client, d, a["id"])
        assert moved.status_code == 200 and moved.get_json()["id"] == d["id"]
        assert listed(auth_client, "sort=position") == [a["id"], d["id"], b["id"], c["id"]]
        assert move(auth_client, c, None).status_code == 200
        assert listed(auth_client, "sort=position") == [c["id"], a["id"], d["id"], b["id"]]
        assert move(auth_client, a, b["id"]).status_code == 200
        assert listed(auth_client, "sort=position") == [c["id"], d["id"], b["id"], a["id"]]

    def test_many_moves_into_one_gap_keep_the_order(self, auth_client):
        first, last = create(auth_client, title="first"), create(auth_client, title="last")
        moved = [create(auth_client, title=f"m{i}") for i in range(30)]
        for todo in moved:
            assert move(auth_client, todo, first["id"]).status_code == 200
        expected = [first["id"], *(t["id"] for t in reversed(moved)), last["id"]]
        assert listed(auth_client, "sort=position") == expected

    def test_a_move_writes_one_row(self, auth_client, statements):
        todos = [create(auth_client, title=f"t{i}") for i in range(6)]
        with statements.capture():
            assert move(auth_client, todos[5], todos[1]["id"]).status_code == 200
        writes = [
            s for s in statements if s.lstrip().upper().startswith(("UPDATE", "INSERT", "WITH"))
        ]
        # The todo, then the sync record (models.sync): its list's counter and the todo's
        # entry, in one statement on PostgreSQL and two on SQLite.
        assert writes[0].split()[:3] == ["UPDATE", "todos", "SET"]
        recorded = " ".join(writes[1:])
        assert "INTO sync_streams" in recorded and "INTO sync_changes" in recorded
        assert len(writes) == (2 if db.engine.dialect.name == "postgresql" else 3)

    def test_move_after_itself_is_400(self, auth_client):
        a = create(auth_client)
        response = move(auth_client, a, a["id"])
        assert response.status_code == 400 and "after" in response.get_json()["errors"]
        assert auth_client.get(todo_url(a["id"])).get_json() == a

    def test_move_after_another_accounts_todo_is_404(self, auth_client, client, bob):
        a = create(auth_client)
        theirs = client.post(TODOS, json={"title": "b"}, headers=bob.headers).get_json()
        response = move(auth_client, a, theirs["id"])
        assert response.status_code == 404
        assert auth_client.get(todo_url(a["id"])).get_json() == a
        assert move(client, theirs, a["id"], **bob.headers).status_code == 404

    def test_move_honours_if_match(self, auth_client):
        a, b = create(auth_client, title="a"), create(auth_client, title="b")
        tag = auth_client.get(todo_url(b["id"])).headers["ETag"]
        assert move(auth_client, b, None, **{"If-Match": tag}).status_code == 200
        stale = move(auth_client, b, a["id"], **{"If-Match": tag})
        assert stale.status_code == 412
        assert listed(auth_client, "sort=position") == [b["id"], a["id"]]

    def test_move_needs_after(self, auth_client):
        a = create(auth_client)
        response = auth_client.post(f"{todo_url(a['id'])}/move", json={})
        assert response.status_code == 400
