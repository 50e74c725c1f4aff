import pytest
from sqlalchemy import func, insert, select

from models import Bucket, Item, db, utcnow
from tests.namespaces.test_todos import links, relative

BUCKETS = "/api/v1/bucketlists/"


def bucket_url(id) -> str:
    return f"{BUCKETS}{id}"


def items_url(bucket_id) -> str:
    return f"{BUCKETS}{bucket_id}/items/"


def item_url(bucket_id, item_id) -> str:
    return f"{BUCKETS}{bucket_id}/items/{item_id}"


def create_bucket(client, **fields):
    response = client.post(BUCKETS, json={"name": "Travel", **fields})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def create_item(client, bucket_id, **fields):
    response = client.post(items_url(bucket_id), json={"name": "See the aurora", **fields})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def bulk_items(user_id: int, bucket_id: int, n: int) -> None:
    now = utcnow()
    rows = [
        {"bucket_id": bucket_id, "user_id": user_id, "name": f"item {i:04}", "description": "",
         "done": i % 2 == 0, "created_at": now, "updated_at": now}
        for i in range(n)
    ]  # fmt: skip
    db.session.execute(insert(Item), rows)
    db.session.commit()


class TestBuckets:
    def test_create(self, auth_client):
        response = auth_client.post(BUCKETS, json={"name": "Travel"})
        assert response.status_code == 201
        body = response.get_json()
        assert set(body) == {
            "id", "name", "description", "created_at", "updated_at", "uri", "item_count",
            "done_count", "items", "items_truncated", "items_uri", "role", "owner",
        }  # fmt: skip
        assert body["role"] == "owner"
        assert set(body["owner"]) == {"id", "email"}
        assert body["items"] == [] and body["item_count"] == 0 and body["description"] == ""
        assert body["uri"] == f"http://localhost/api/v1/bucketlists/{body['id']}"
        assert response.headers["Location"] == body["uri"]

    def test_get_includes_the_items(self, auth_client):
        bucket = create_bucket(auth_client)
        first = create_item(auth_client, bucket["id"], name="one")
        create_item(auth_client, bucket["id"], name="two", done=True)
        body = auth_client.get(bucket_url(bucket["id"])).get_json()
        assert body["item_count"] == 2
        assert [i["name"] for i in body["items"]] == ["one", "two"]
        assert body["items"][0] == first

    def test_put_replaces_name_and_description(self, auth_client):
        bucket = create_bucket(auth_client, description="old")
        create_item(auth_client, bucket["id"])
        body = auth_client.put(bucket_url(bucket["id"]), json={"name": "Sports"}).get_json()
        assert (body["name"], body["description"], body["item_count"]) == ("Sports", "", 1)
        assert len(body["items"]) == 1

    def test_patch(self, auth_client):
        bucket = create_bucket(auth_client, description="keep")
        body = auth_client.patch(bucket_url(bucket["id"]), json={"name": "Renamed"}).get_json()
        assert (body["name"], body["description"]) == ("Renamed", "keep")

    def test_delete_removes_the_items_in_the_database(self, auth_client, alice):
        bucket = create_bucket(auth_client)
        other = create_bucket(auth_client, name="Other")
        bulk_items(alice.user.id, bucket["id"], 5)
        create_item(auth_client, other["id"])
        response = auth_client.delete(bucket_url(bucket["id"]))
        assert response.status_code == 204
        assert auth_client.get(bucket_url(bucket["id"])).status_code == 404
        assert auth_client.get(items_url(bucket["id"])).status_code == 404
        assert db.session.scalars(select(Item.bucket_id)).all() == [other["id"]]

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({}, "name"), ({"name": ""}, "name"), ({"name": " "}, "name"),
            ({"name": "x" * 101}, "name"), ({"name": 3}, "name"),
            ({"name": "ok", "description": 3}, "description"),
        ],
    )  # fmt: skip
    def test_validation(self, auth_client, body, field):
        response = auth_client.post(BUCKETS, json=body)
        assert response.status_code == 400
        assert field in response.get_json()["errors"]
        assert count(Bucket) == 0


class TestItems:
    def test_create_and_get(self, auth_client):
        bucket = create_bucket(auth_client)
        response = auth_client.post(items_url(bucket["id"]), json={"name": "Climb"})
        assert response.status_code == 201
        body = response.get_json()
        assert set(body) == {
            "id", "name", "description", "done", "created_at", "updated_at", "uri",
            "completed_at", "position",
        }  # fmt: skip
        assert body["uri"] == f"http://localhost{item_url(bucket['id'], body['id'])}"
        assert response.headers["Location"] == body["uri"]
        assert auth_client.get(item_url(bucket["id"], body["id"])).get_json() == body

    def test_put_patch_delete(self, auth_client):
        bucket = create_bucket(auth_client)
        item = create_item(auth_client, bucket["id"], description="d", done=True)
        url = item_url(bucket["id"], item["id"])
        put = auth_client.put(url, json={"name": "New"}).get_json()
        assert (put["name"], put["description"], put["done"]) == ("New", "", False)
        patched = auth_client.patch(url, json={"done": True}).get_json()
        assert (patched["name"], patched["done"]) == ("New", True)
        assert auth_client.patch(url, json={"name": None}).status_code == 400
        assert auth_client.delete(url).status_code == 204
        assert auth_client.get(url).status_code == 404
        assert auth_client.get(bucket_url(bucket["id"])).get_json()["item_count"] == 0

    @pytest.mark.parametrize(
        ("body", "field"),
        [({}, "name"), ({"name": "x" * 201}, "name"), ({"name": "ok", "done": "no"}, "done")],
    )
    def test_validation(self, auth_client, body, field):
        bucket = create_bucket(auth_client)
        response = auth_client.post(items_url(bucket["id"]), json=body)
        assert response.status_code == 400
        assert field in response.get_json()["errors"]
        assert count(Item) == 0

    def test_items_of_a_missing_bucket(self, auth_client):
        assert auth_client.get(items_url(404)).status_code == 404
        response = auth_client.post(items_url(404), json={"name": "x"})
        assert response.status_code == 404
        assert response.get_json()["message"] == "Bucket list 404 not found."
        assert count(Item) == 0

    @pytest.mark.parametrize("method", ["get", "put", "patch", "delete"])
    def test_an_item_through_another_bucket_of_the_same_owner_is_404(self, auth_client, method):
        home = create_bucket(auth_client, name="Home")
        away = create_bucket(auth_client, name="Away")
        item = create_item(auth_client, home["id"])
        response = getattr(auth_client, method)(
            item_url(away["id"], item["id"]), json={"name": "x"}
        )
        assert response.status_code == 404
        assert auth_client.get(item_url(home["id"], item["id"])).get_json() == item

    def test_list_filters_and_sorts(self, auth_client, alice):
        bucket = create_bucket(auth_client)
        bulk_items(alice.user.id, bucket["id"], 30)
        response = auth_client.get(items_url(bucket["id"]) + "?done=true&q=ITEM 000&sort=-name")
        assert [i["name"] for i in response.get_json()] == [
            "item 0008", "item 0006", "item 0004", "item 0002", "item 0000"
        ]  # fmt: skip
        assert response.headers["X-Total-Count"] == "5"
        page = auth_client.get(items_url(bucket["id"]) + "?per_page=7&page=5")
        assert len(page.get_json()) == 2
        assert 'rel="prev"' in page.headers["Link"] and 'rel="next"' not in page.headers["Link"]


class TestBucketLists:
    def test_list_leaves_items_out_unless_asked(self, auth_client):
        bucket = create_bucket(auth_client)
        create_item(auth_client, bucket["id"])
        [listed] = auth_client.get(BUCKETS).get_json()
        assert "items" not in listed and listed["item_count"] == 1
        [with_items] = auth_client.get(BUCKETS, headers={"X-Fields": "{id,items{name}}"}).get_json()
        assert with_items == {"id": bucket["id"], "items": [{"name": "See the aurora"}]}

    def test_the_spec_says_which_lists_include_items(self, client):
        spec = client.get("/api/v1/swagger.json").get_json()
        operation = spec["paths"]["/bucketlists/"]["get"]
        assert "items" in operation["description"]
        [mask] = [p for p in operation["parameters"] if p["name"] == "X-Fields"]
        shown = mask["default"].strip("{}").split(",")
        assert "items" not in shown and "items_truncated" not in shown
        assert {"item_count", "done_count", "items_uri"} <= set(shown)

    def test_filter_and_sort(self, auth_client):
        for name in ["Travel", "Sports", "travel light"]:
            create_bucket(auth_client, name=name)
        names = [b["name"] for b in auth_client.get(BUCKETS + "?q=TRAVEL&sort=-name").get_json()]
        assert names == ["travel light", "Travel"]

    def test_pagination(self, auth_client):
        for i in range(5):
            create_bucket(auth_client, name=f"b{i}")
        response = auth_client.get(BUCKETS + "?per_page=2")
        assert response.headers["X-Total-Count"] == "5"
        assert [b["name"] for b in response.get_json()] == ["b0", "b1"]
        assert 'rel="next"' in response.headers["Link"]


class TestCounts:
    """`item_count` and `X-Total-Count` are the counts the database keeps, right after writes."""

    def total(self, client, url: str) -> int:
        return int(client.get(url).headers["X-Total-Count"])

    def item_counts(self, client, bucket_id) -> set:
        """The bucket's item_count in its own GET, in the list, and its items' total."""
        listed = {b["id"]: b["item_count"] for b in client.get(BUCKETS).get_json()}
        shown = client.get(bucket_url(bucket_id)).get_json()["item_count"]
        return {shown, listed[bucket_id], self.total(client, items_url(bucket_id))}

    def test_counts_follow_every_write(self, auth_client, alice):
        bucket = create_bucket(auth_client)
        other = create_bucket(auth_client, name="Other")
        assert self.total(auth_client, BUCKETS) == 2
        items = [create_item(auth_client, bucket["id"], name=f"i{n}") for n in range(3)]
        assert self.item_counts(auth_client, bucket["id"]) == {3}
        patched = auth_client.patch(bucket_url(bucket["id"]), json={"name": "Renamed"})
        assert patched.get_json()["item_count"] == 3
        put = auth_client.put(bucket_url(bucket["id"]), json={"name": "Again"})
        assert put.get_json()["item_count"] == 3
        auth_client.patch(item_url(bucket["id"], items[0]["id"]), json={"done": True})
        auth_client.delete(item_url(bucket["id"], items[1]["id"]))
        assert self.item_counts(auth_client, bucket["id"]) == {2}
        bulk_items(alice.user.id, bucket["id"], 40)
        assert self.item_counts(auth_client, bucket["id"]) == {42}
        # The bucket goes with its items; the other one keeps its own.
        create_item(auth_client, other["id"])
        assert auth_client.delete(bucket_url(bucket["id"])).status_code == 204
        assert self.total(auth_client, BUCKETS) == 1
        assert self.item_counts(auth_client, other["id"]) == {1}

    def test_a_patch_shows_items_added_in_the_same_session(self, auth_client, alice):
        bucket = create_bucket(auth_client)
        held = db.session.get(Bucket, bucket["id"])
        assert held.item_count == 0
        create_item(auth_client, bucket["id"])
        bulk_items(alice.user.id, bucket["id"], 2)
        patched = auth_client.patch(bucket_url(bucket["id"]), json={"name": "x"}).get_json()
        assert patched["item_count"] == 3 and held.item_count == 3

    def test_filtered_lists_count_the_filtered_rows(self, auth_client, alice):
        for name in ["Travel", "Sports", "travel light"]:
            create_bucket(auth_client, name=name)
        assert self.total(auth_client, BUCKETS + "?q=travel") == 2
        bucket = create_bucket(auth_client)
        bulk_items(alice.user.id, bucket["id"], 30)
        assert self.total(auth_client, items_url(bucket["id"]) + "?done=true") == 15
        assert self.total(auth_client, items_url(bucket["id"]) + "?q=item 001") == 10
        assert self.total(auth_client, items_url(bucket["id"]) + "?q=item 001&done=false") == 5

    @pytest.mark.parametrize("query", ["", "?q=a", "?done=false"])
    def test_only_filtered_lists_run_a_count(self, auth_client, alice, statements, query):
        bucket = create_bucket(auth_client)
        bulk_items(alice.user.id, bucket["id"], 3)
        for url in [BUCKETS, items_url(bucket["id"])]:
            if "done" in query and url == BUCKETS:
                continue
            with statements.capture():
                auth_client.get(url + query)
            counts = sum("count(" in s.lower() for s in statements)
            assert counts == (1 if query else 0), (url, statements)


class TestNestedMasks:
    def test_bucket_with_nested_mask(self, auth_client):
        bucket = create_bucket(auth_client)
        create_item(auth_client, bucket["id"], name="one")
        create_item(auth_client, bucket["id"], name="two")
        response = auth_client.get(
            bucket_url(bucket["id"]), headers={"X-Fields": "{name,items{name}}"}
        )
        assert response.get_json() == {
            "name": "Travel",
            "items": [{"name": "one"}, {"name": "two"}],
        }

    def test_list_with_a_flat_mask(self, auth_client):
        create_bucket(auth_client)
        body = auth_client.get(BUCKETS, query_string={"fields": "{id,name}"}).get_json()
        assert [set(b) for b in body] == [{"id", "name"}]

    @pytest.mark.parametrize(
        "mask", ["{name{x}}", "{items{name{x}}}", "{items{nothing}}", "{items"]
    )
    def test_bad_nested_masks_are_400(self, auth_client, mask):
        bucket = create_bucket(auth_client)
        response = auth_client.get(bucket_url(bucket["id"]), headers={"X-Fields": mask})
        assert response.status_code == 400
        assert response.get_json()["message"]

    def test_nested_masks_load_only_the_needed_columns(self, auth_client, statements):
        bucket = create_bucket(auth_client, description="long text")
        create_item(auth_client, bucket["id"], description="more long text")
        with statements.capture():
            auth_client.get(bucket_url(bucket["id"]), headers={"X-Fields": "{name,items{name}}"})
        joined = "\n".join(statements.selects)
        assert "items.name" in joined and "buckets.name" in joined
        assert "description" not in joined and "count(" not in joined.lower()
        with statements.capture():
            auth_client.get(bucket_url(bucket["id"]), headers={"X-Fields": "{name}"})
        assert not any("FROM items" in s for s in statements.selects if "count(" not in s.lower())


def test_each_bucket_of_a_page_gets_its_own_items_in_order(auth_client):
    first, second = create_bucket(auth_client, name="a"), create_bucket(auth_client, name="b")
    for bucket, names in ((second, ["s1", "s2"]), (first, ["f1"]), (second, ["s3"])):
        for name in names:
            create_item(auth_client, bucket["id"], name=name)
    body = auth_client.get(BUCKETS, headers={"X-Fields": "{name,items{name}}"}).get_json()
    assert body == [
        {"name": "a", "items": [{"name": "f1"}]},
        {"name": "b", "items": [{"name": "s1"}, {"name": "s2"}, {"name": "s3"}]},
    ]


class TestStatementCounts:
    """Lists and nested items load in a constant number of SQL statements."""

    def test_a_page_of_100_buckets_with_their_items(self, auth_client, alice, statements):
        now = utcnow()
        db.session.execute(
            insert(Bucket),
            [{"user_id": alice.user.id, "name": f"b{i}", "description": "",
              "created_at": now, "updated_at": now} for i in range(100)],
        )  # fmt: skip
        for bucket_id in db.session.scalars(select(Bucket.id)).all():
            bulk_items(alice.user.id, bucket_id, 3)
        # The key's first use is written down once (a minute passes before the next): count
        # a request after it, as nearly every request is.
        auth_client.get(BUCKETS + "?per_page=1")
        with statements.capture():
            response = auth_client.get(BUCKETS + "?per_page=100", headers={"X-Fields": "*"})
        body = response.get_json()
        assert len(body) == 100 and all(len(b["items"]) == 3 for b in body)
        assert all(b["item_count"] == 3 for b in body)
        # credential with the account's counts, sync position, page, items of the page:
        # no COUNT
        assert len(statements) == 4, statements

    def test_a_bucket_with_1000_items(self, auth_client, alice, statements):
        bucket = create_bucket(auth_client)
        bulk_items(alice.user.id, bucket["id"], 1000)
        with statements.capture():
            body = auth_client.get(bucket_url(bucket["id"])).get_json()
        assert len(body["items"]) == 100 and body["items_truncated"] is True
        assert [item["name"] for item in body["items"]][-1] == "item 0099"
        assert body["item_count"] == 1000 and body["done_count"] == 500
        assert body["items_uri"] == "http://localhost" + items_url(bucket["id"])
        # credential, bucket with its kept counts, its first items
        assert len(statements) == 3, statements
        assert "LIMIT" in statements[-1], statements

    def test_a_page_of_items(self, auth_client, alice, statements):
        bucket = create_bucket(auth_client)
        bulk_items(alice.user.id, bucket["id"], 150)
        with statements.capture():
            assert len(auth_client.get(items_url(bucket["id"]) + "?per_page=100").get_json()) == 100
        # credential, bucket ownership with its item count, sync position, page: no COUNT
        assert len(statements) == 4, statements


class TestMergePatch:
    """PATCH of a bucket list or an item is an RFC 7396 merge patch, as of a todo."""

    def test_null_clears_a_bucket_lists_description(self, auth_client):
        bucket = create_bucket(auth_client, description="Far away")
        response = auth_client.patch(
            bucket_url(bucket["id"]),
            data='{"description": null}',
            content_type="application/merge-patch+json",
        )
        assert response.status_code == 200, response.get_json()
        assert (response.get_json()["name"], response.get_json()["description"]) == ("Travel", "")

    def test_null_on_a_required_field_is_400_naming_it(self, auth_client):
        bucket = create_bucket(auth_client)
        item = create_item(auth_client, bucket["id"], done=True)
        for url, field in [
            (bucket_url(bucket["id"]), "name"),
            (item_url(bucket["id"], item["id"]), "name"),
            (item_url(bucket["id"], item["id"]), "done"),
        ]:
            response = auth_client.patch(url, json={field: None, "description": "changed"})
            assert response.status_code == 400
            assert field in response.get_json()["errors"]
        assert auth_client.get(item_url(bucket["id"], item["id"])).get_json() == item

    def test_null_resets_an_items_description_and_keeps_the_rest(self, auth_client):
        bucket = create_bucket(auth_client)
        item = create_item(auth_client, bucket["id"], description="d", done=True)
        url = item_url(bucket["id"], item["id"])
        patched = auth_client.patch(url, json={"description": None}).get_json()
        assert (patched["description"], patched["done"], patched["name"]) == (
            "",
            True,
            item["name"],
        )


def move_item(client, item, after, **headers):
    url = item_url(item["bucket_id"], item["id"]) + "/move"
    return client.post(url, json={"after": after}, headers=headers)


def items_in(client, bucket_id, query="sort=position") -> list[int]:
    return [item["id"] for item in client.get(f"{items_url(bucket_id)}?{query}").get_json()]


class TestOrderedItems:
    """Items have a manual order, a completion time, and their list counts the done ones."""

    @pytest.fixture
    def items(self, auth_client):
        bucket = create_bucket(auth_client)
        return [
            {**create_item(auth_client, bucket["id"], name=name), "bucket_id": bucket["id"]}
            for name in "abcd"
        ]

    def test_new_items_go_last_and_move(self, auth_client, items):
        a, b, c, d = items
        bucket_id = a["bucket_id"]
        assert items_in(auth_client, bucket_id) == [a["id"], b["id"], c["id"], d["id"]]
        moved = move_item(auth_client, d, a["id"])
        assert moved.status_code == 200 and moved.get_json()["position"] != d["position"]
        assert items_in(auth_client, bucket_id) == [a["id"], d["id"], b["id"], c["id"]]
        assert move_item(auth_client, c, None).status_code == 200
        assert items_in(auth_client, bucket_id) == [c["id"], a["id"], d["id"], b["id"]]
        assert items_in(auth_client, bucket_id, "sort=-position") == [
            b["id"], d["id"], a["id"], c["id"]
        ]  # fmt: skip
        # The bucket list embeds its items in that order too.
        embedded = auth_client.get(bucket_url(bucket_id)).get_json()["items"]
        assert [item["id"] for item in embedded] == [c["id"], a["id"], d["id"], b["id"]]

    def test_a_cursor_walk_in_position_order_sees_every_item_once(self, auth_client, items):
        a, b, c, d = items
        move_item(auth_client, d, None)
        response = auth_client.get(f"{items_url(a['bucket_id'])}?sort=position&per_page=3")
        following = auth_client.get(relative(links(response)["next"]))
        seen = [item["id"] for item in response.get_json() + following.get_json()]
        assert seen == [d["id"], a["id"], b["id"], c["id"]]

    def test_move_after_itself_is_400_and_changes_nothing(self, auth_client, items):
        a = items[0]
        response = move_item(auth_client, a, a["id"])
        assert response.status_code == 400 and "after" in response.get_json()["errors"]
        assert (
            auth_client.get(item_url(a["bucket_id"], a["id"])).get_json()["position"]
            == (a["position"])
        )

    def test_move_after_an_item_of_another_list_is_404(self, auth_client, items):
        other = create_bucket(auth_client, name="Other")
        elsewhere = create_item(auth_client, other["id"])
        response = move_item(auth_client, items[0], elsewhere["id"])
        assert response.status_code == 404
        assert items_in(auth_client, items[0]["bucket_id"]) == [item["id"] for item in items]

    def test_move_after_another_accounts_item_is_404(self, auth_client, client, bob, items):
        theirs = client.post(BUCKETS, json={"name": "Bob's"}, headers=bob.headers).get_json()
        their_item = client.post(
            items_url(theirs["id"]), json={"name": "x"}, headers=bob.headers
        ).get_json()
        assert move_item(auth_client, items[0], their_item["id"]).status_code == 404
        assert (
            move_item(auth_client, {**their_item, "bucket_id": theirs["id"]}, None).status_code
            == 404
        )

    def test_move_honours_if_match(self, auth_client, items):
        a, b = items[:2]
        tag = auth_client.get(item_url(b["bucket_id"], b["id"])).headers["ETag"]
        assert move_item(auth_client, b, None, **{"If-Match": tag}).status_code == 200
        assert move_item(auth_client, b, a["id"], **{"If-Match": tag}).status_code == 412
        assert items_in(auth_client, a["bucket_id"])[:2] == [b["id"], a["id"]]

    def test_a_move_bumps_the_bucket_lists_etag(self, auth_client, items):
        a, b = items[:2]
        before = auth_client.get(bucket_url(a["bucket_id"])).headers["ETag"]
        move_item(auth_client, b, None)
        assert auth_client.get(bucket_url(a["bucket_id"])).headers["ETag"] != before

    def test_done_sets_completed_at_and_the_done_count(self, auth_client, items):
        a, b = items[:2]
        bucket_id = a["bucket_id"]
        done = auth_client.patch(item_url(bucket_id, a["id"]), json={"done": True}).get_json()
        assert done["completed_at"] is not None and a["completed_at"] is None
        auth_client.patch(item_url(bucket_id, b["id"]), json={"done": True})
        assert auth_client.get(bucket_url(bucket_id)).get_json()["done_count"] == 2
        reopened = auth_client.patch(item_url(bucket_id, a["id"]), json={"done": False})
        assert reopened.get_json()["completed_at"] is None
        auth_client.delete(item_url(bucket_id, b["id"]))
        created = create_item(auth_client, bucket_id, done=True)
        bucket = auth_client.get(bucket_url(bucket_id)).get_json()
        assert bucket["done_count"] == 1 and bucket["item_count"] == 4
        assert created["completed_at"] is not None

    def test_a_list_embeds_at_most_100_items_per_bucket_in_one_statement(
        self, auth_client, alice, statements
    ):
        big, small = create_bucket(auth_client, name="big"), create_bucket(auth_client, name="s")
        bulk_items(alice.user.id, big["id"], 150)
        bulk_items(alice.user.id, small["id"], 3)
        mask = {"X-Fields": "{name,items_truncated,items{name}}"}
        with statements.capture():
            listed = auth_client.get(BUCKETS, headers=mask).get_json()
        assert [(len(b["items"]), b["items_truncated"]) for b in listed] == [
            (100, True), (3, False)
        ]  # fmt: skip
        # credential, sync position, page, the items of both
        assert len(statements) == 4, statements

    def test_the_list_leaves_items_out_by_default(self, auth_client, alice, statements):
        bucket = create_bucket(auth_client)
        bulk_items(alice.user.id, bucket["id"], 3)
        with statements.capture():
            [listed] = auth_client.get(BUCKETS).get_json()
        assert "items" not in listed and listed["item_count"] == 3
        assert listed["done_count"] == 2 and listed["items_uri"].endswith(items_url(bucket["id"]))
        # credential, sync position, page
        assert len(statements) == 3, statements
