import re
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import func, insert, select

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
            "id", "title", "description", "done", "created_at", "updated_at", "uri"
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

    @pytest.mark.parametrize("field", ["title", "done", "description"])
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
