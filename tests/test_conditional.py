"""Conditional requests: an ETag on every representation, 304s, and If-Match on writes."""

import threading
import time
from functools import partial

import pytest
from sqlalchemy import select, text, update

import models
from models import ApiKey, Todo, db
from tests.clients import together
from tests.conftest import TEST_DATABASE_URL

API = "/api/v1"


@pytest.fixture
def todo(auth_client) -> dict:
    return auth_client.post(f"{API}/todos/", json={"title": "Buy milk"}).get_json()


@pytest.fixture
def todo_url(todo) -> str:
    return f"{API}/todos/{todo['id']}"


def key_id(account) -> int:
    return db.session.scalars(select(ApiKey.id).where(ApiKey.user_id == account.user.id)).first()


REPRESENTATIONS = ["/todos/", "/todos/{todo}", "/auth/me", "/auth/keys/", "/auth/keys/{key}"]


@pytest.mark.parametrize("path", REPRESENTATIONS)
def test_every_representation_has_an_etag_and_honours_if_none_match(auth_client, alice, todo, path):
    url = API + path.format(todo=todo["id"], key=key_id(alice))
    first = auth_client.get(url)
    assert first.status_code == 200
    tag = first.headers["ETag"]
    assert tag.startswith('"') and tag.endswith('"') and len(tag) > 10
    assert auth_client.get(url).headers["ETag"] == tag

    for condition in (tag, f"W/{tag}", f'"other", {tag}', "*"):
        cached = auth_client.get(url, headers={"If-None-Match": condition})
        assert cached.status_code == 304, condition
        assert cached.data == b""
        assert cached.headers["ETag"] == tag
        assert "Content-Type" not in cached.headers
        assert cached.headers["X-Request-ID"]

    assert auth_client.get(url, headers={"If-None-Match": '"other"'}).status_code == 200
    head = auth_client.head(url)
    assert head.status_code == 200 and head.headers["ETag"] == tag
    assert auth_client.head(url, headers={"If-None-Match": tag}).status_code == 304


def test_the_mask_is_part_of_the_representation(auth_client, todo_url):
    full = auth_client.get(todo_url).headers["ETag"]
    masked = auth_client.get(todo_url, headers={"X-Fields": "{id,title}"}).headers["ETag"]
    by_query = auth_client.get(todo_url + "?fields=id,title").headers["ETag"]
    assert masked != full
    assert by_query == masked
    assert auth_client.get(todo_url, headers={"If-None-Match": masked}).status_code == 200
    again = auth_client.get(todo_url, headers={"X-Fields": "{id,title}", "If-None-Match": masked})
    assert again.status_code == 304


def test_the_tag_changes_when_the_representation_does(auth_client, todo_url):
    before = auth_client.get(todo_url).headers["ETag"]
    auth_client.patch(todo_url, json={"title": "Buy milk"})
    assert auth_client.get(todo_url).headers["ETag"] == before, "nothing changed"
    auth_client.patch(todo_url, json={"done": True})
    assert auth_client.get(todo_url).headers["ETag"] != before


def test_a_list_tag_covers_the_page_and_its_headers(auth_client, todo):
    url = f"{API}/todos/?per_page=1"
    first = auth_client.get(url)
    auth_client.post(f"{API}/todos/", json={"title": "Second"})
    second = auth_client.get(url)
    # The page shows the same todo, but the total and the links changed.
    assert second.get_json() == first.get_json()
    assert second.headers["X-Total-Count"] != first.headers["X-Total-Count"]
    assert second.headers["ETag"] != first.headers["ETag"]
    assert auth_client.get(url, headers={"If-None-Match": first.headers["ETag"]}).status_code == 200


@pytest.mark.parametrize("method", ["put", "patch"])
def test_a_write_with_the_current_tag_lands_and_returns_the_new_tag(auth_client, todo_url, method):
    tag = auth_client.get(todo_url).headers["ETag"]
    response = getattr(auth_client, method)(
        todo_url, json={"title": "Buy oat milk"}, headers={"If-Match": tag}
    )
    assert response.status_code == 200
    assert response.get_json()["title"] == "Buy oat milk"
    new_tag = response.headers["ETag"]
    assert new_tag != tag
    assert auth_client.get(todo_url).headers["ETag"] == new_tag


@pytest.mark.parametrize(
    ("method", "body"),
    [("put", {"title": "Lost"}), ("patch", {"title": "Lost"}), ("delete", None)],
)
def test_a_stale_tag_is_412_and_changes_nothing(auth_client, todo_url, method, body):
    stale = auth_client.get(todo_url).headers["ETag"]
    auth_client.patch(todo_url, json={"description": "changed by someone else"})
    before = auth_client.get(todo_url).get_json()
    response = getattr(auth_client, method)(todo_url, json=body, headers={"If-Match": stale})
    assert response.status_code == 412
    assert response.is_json and response.get_json()["message"]
    assert auth_client.get(todo_url).get_json() == before


def test_delete_with_the_current_tag(auth_client, todo_url):
    tag = auth_client.get(todo_url).headers["ETag"]
    assert auth_client.delete(todo_url, headers={"If-Match": tag}).status_code == 204
    assert auth_client.get(todo_url).status_code == 404


def test_if_match_star_needs_only_an_existing_resource(auth_client, todo_url):
    response = auth_client.patch(todo_url, json={"done": True}, headers={"If-Match": "*"})
    assert response.status_code == 200
    missing = auth_client.patch(f"{API}/todos/999", json={"done": True}, headers={"If-Match": "*"})
    assert missing.status_code == 404


def test_if_match_compares_strongly(auth_client, todo_url):
    tag = auth_client.get(todo_url).headers["ETag"]
    response = auth_client.patch(todo_url, json={"done": True}, headers={"If-Match": f"W/{tag}"})
    assert response.status_code == 412


def test_if_match_compares_the_representation_under_the_requests_mask(auth_client, todo_url):
    mask = {"X-Fields": "{id,title}"}
    masked_tag = auth_client.get(todo_url, headers=mask).headers["ETag"]
    without_mask = auth_client.patch(
        todo_url, json={"done": True}, headers={"If-Match": masked_tag}
    )
    assert without_mask.status_code == 412
    with_mask = auth_client.patch(
        todo_url, json={"done": True}, headers={"If-Match": masked_tag, **mask}
    )
    assert with_mask.status_code == 200
    assert with_mask.get_json() == {"id": with_mask.get_json()["id"], "title": "Buy milk"}


def test_if_match_on_the_auth_namespace(client, alice):
    url = f"{API}/auth/keys/"
    with client.login(alice):
        created = client.post(url, json={"name": "spare"}).get_json()
        key_url = f"{url}{created['id']}"
        tag = client.get(key_url).headers["ETag"]
        assert client.delete(key_url, headers={"If-Match": '"stale"'}).status_code == 412
        assert (
            client.get(f"{API}/auth/me", headers={"X-API-KEY": created["key"]}).status_code == 200
        )
        # Its first use changed the key's representation (last_used_at), so its tag.
        assert client.delete(key_url, headers={"If-Match": tag}).status_code == 412
        tag = client.get(key_url).headers["ETag"]
        assert client.delete(key_url, headers={"If-Match": tag}).status_code == 204


def sneak_in(todo_id: int, engine=None, **values) -> None:
    """Another writer commits a change to the todo, on a connection of its own."""
    todos = Todo.__table__
    values = values or {"description": "The other writer's"}
    with (engine or db.engine).begin() as connection:
        connection.execute(
            update(todos).where(todos.c.id == todo_id).values(version=todos.c.version + 1, **values)
        )


# PostgreSQL, the only server database the tests run on, locks rows; SQLite locks the
# whole database for a writer.
ROW_LOCKS = TEST_DATABASE_URL is not None


def waiting_for_a_lock(engine) -> bool:
    with engine.connect() as connection:
        waits = "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
        return connection.scalar(text(waits)) > 0


def other_writer_waits(engine, other: threading.Thread) -> bool:
    """Whether the other writer is held back: on a row lock (PostgreSQL), or on the
    database's write lock (SQLite), where it keeps retrying within its busy timeout."""
    if not ROW_LOCKS:
        other.join(0.5)
        return other.is_alive()
    deadline = time.monotonic() + 10
    while not waiting_for_a_lock(engine) and time.monotonic() < deadline:
        time.sleep(0.01)
    return waiting_for_a_lock(engine)


def test_another_writer_waits_for_the_row_a_write_has_read(
    app, auth_client, todo, todo_url, monkeypatch
):
    """The write locks what it read: the other writer takes its turn after it, so there
    is no race to lose between reading the row and writing it."""
    apply = models.base.Timestamped.update
    engine = db.engine
    other = threading.Thread(target=sneak_in, args=(todo["id"], engine), daemon=True)
    waited = []

    def let_the_other_writer_try(self, data):
        if not other.is_alive() and not waited:
            other.start()
            waited.append(other_writer_waits(engine, other))
        apply(self, data)

    monkeypatch.setattr(models.base.Timestamped, "update", let_the_other_writer_try)
    response = auth_client.patch(todo_url, json={"title": "Mine"})
    other.join(20)
    assert waited == [True]
    assert response.status_code == 200
    assert response.get_json()["description"] == todo["description"]
    monkeypatch.undo()
    # The other writer changed the row this write left: both changes are there.
    assert auth_client.get(todo_url).get_json()["title"] == "Mine"
    assert auth_client.get(todo_url).get_json()["description"] == "The other writer's"


WRITERS, ROUNDS = 6, 4


def test_racing_conditional_writers_one_wins_each_round(http):
    """Each round, writers that read the same version race to change it: one wins."""
    created = http("POST", "/todos/", {"title": "counter", "description": "0"})
    path = f"/todos/{created.body['id']}"
    for round_number in range(1, ROUNDS + 1):
        current = http("GET", path)
        tag, count = current.headers["ETag"], int(current.body["description"])
        results = together(
            [
                partial(
                    http,
                    "PATCH",
                    path,
                    {"title": f"writer {writer}", "description": str(count + 1)},
                    {"If-Match": tag},
                )
                for writer in range(WRITERS)
            ]
        )
        statuses = sorted(result.status for result in results)
        assert statuses == [200] + [412] * (WRITERS - 1), (round_number, statuses)
        [winner] = [result for result in results if result.status == 200]
        after = http("GET", path)
        assert after.body == winner.body
        assert after.headers["ETag"] == winner.headers["ETag"]
    assert http("GET", path).body["description"] == str(ROUNDS)


def test_no_increment_is_lost_when_writers_retry_on_412(http):
    """Writers add one each, re-reading after every 412: the total is exact."""
    created = http("POST", "/todos/", {"title": "counter", "description": "0"})
    path = f"/todos/{created.body['id']}"
    increments, max_attempts = 3, 60

    def add_one_several_times():
        done = attempts = 0
        while done < increments and attempts < max_attempts:
            attempts += 1
            current = http("GET", path)
            count = int(current.body["description"])
            result = http(
                "PATCH",
                path,
                {"description": str(count + 1)},
                {"If-Match": current.headers["ETag"]},
            )
            assert result.status in (200, 412), result
            done += result.status == 200
        return done

    assert together([add_one_several_times] * 4) == [increments] * 4
    assert http("GET", path).body["description"] == str(4 * increments)


def test_racing_unconditional_writers_all_succeed(http):
    created = http("POST", "/todos/", {"title": "start"})
    path = f"/todos/{created.body['id']}"
    titles = [f"writer {writer}" for writer in range(WRITERS)]
    results = together([partial(http, "PATCH", path, {"title": title}) for title in titles])
    assert [result.status for result in results] == [200] * WRITERS
    assert http("GET", path).body["title"] in titles


def spec_operations(client):
    spec = client.get(f"{API}/swagger.json").get_json()
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method != "parameters":
                params = {p["name"]: p for p in operation.get("parameters", [])}
                yield method, path, operation, params


def test_the_spec_documents_conditional_requests(client):
    seen = set()
    for method, path, operation, params in spec_operations(client):
        # An export is a file to keep, not a representation: no ETag, so no 304.
        if method == "get" and path != "/auth/me/export":
            assert params["If-None-Match"]["in"] == "header", path
            assert "304" in operation["responses"], path
        if method in ("put", "patch", "delete"):
            assert params["If-Match"]["in"] == "header", (method, path)
            assert "412" in operation["responses"], (method, path)
        seen.add(method)
    assert {"get", "put", "patch", "delete"} <= seen
