"""The counts the database keeps stay exact however rows are written."""

from random import Random

import pytest
from sqlalchemy import delete, func, insert, inspect, select, update

from api.tools import seed as seeding
from models import Bucket, Item, Member, Todo, User, db, utcnow
from tests.clients import together
from tests.conftest import TEST_DATABASE_URL


def counted() -> dict:
    """Each user's (todo_count, bucket_count) and each bucket's item_count, as kept."""
    users = db.session.execute(select(User.id, User.todo_count, User.bucket_count))
    buckets = db.session.execute(select(Bucket.id, Bucket.item_count))
    return {
        "users": {id: (todos, buckets) for id, todos, buckets in users},
        "buckets": dict(buckets.all()),
    }


def recounted() -> dict:
    """The same figures by COUNT(*)."""

    def per(column, key):
        return dict(db.session.execute(select(key, func.count(column)).group_by(key)).all())

    # An account's bucket lists are those it is a member of, owned or shared.
    todos, buckets = per(Todo.id, Todo.user_id), per(Member.bucket_id, Member.user_id)
    items = per(Item.id, Item.bucket_id)
    user_ids = db.session.scalars(select(User.id))
    bucket_ids = db.session.scalars(select(Bucket.id))
    return {
        "users": {id: (todos.get(id, 0), buckets.get(id, 0)) for id in user_ids},
        "buckets": {id: items.get(id, 0) for id in bucket_ids},
    }


def assert_exact() -> dict:
    db.session.expire_all()
    kept = counted()
    assert kept == recounted()
    return kept


def rows(n: int, **fields) -> list[dict]:
    now = utcnow()
    common = {"description": "", "created_at": now, "updated_at": now, **fields}
    return [dict(common) for _ in range(n)]


@pytest.fixture
def buckets(alice) -> tuple[int, int]:
    ids = db.session.scalars(
        insert(Bucket).returning(Bucket.id, sort_by_parameter_order=True),
        rows(2, user_id=alice.user.id, name="b"),
    ).all()
    db.session.commit()
    return tuple(ids)


def test_a_new_account_counts_nothing(alice):
    assert assert_exact()["users"] == {alice.user.id: (0, 0)}


def test_orm_inserts_and_deletes(alice, bob):
    todos = [Todo(user_id=alice.user.id, title=f"t{i}") for i in range(3)]
    bucket = Bucket(user_id=bob.user.id, name="b")
    db.session.add_all([*todos, bucket])
    db.session.flush()
    db.session.add_all([Item(bucket_id=bucket.id, user_id=bob.user.id, name="i") for _ in "ab"])
    db.session.commit()
    assert assert_exact()["users"] == {alice.user.id: (3, 0), bob.user.id: (0, 1)}
    assert assert_exact()["buckets"] == {bucket.id: 2}

    db.session.delete(todos[0])
    db.session.delete(db.session.scalars(select(Item)).first())
    db.session.commit()
    assert assert_exact()["users"][alice.user.id] == (2, 0)
    assert assert_exact()["buckets"] == {bucket.id: 1}


def test_bulk_inserts_and_deletes_with_core(alice, buckets):
    first, second = buckets
    db.session.execute(insert(Todo), rows(250, user_id=alice.user.id, title="t", done=False))
    items = rows(300, bucket_id=first, user_id=alice.user.id, name="i", done=False)
    items += rows(200, bucket_id=second, user_id=alice.user.id, name="i", done=False)
    db.session.execute(insert(Item), items)
    db.session.commit()
    assert assert_exact() == {
        "users": {alice.user.id: (250, 2)},
        "buckets": {first: 300, second: 200},
    }

    db.session.execute(delete(Todo).where(Todo.id % 5 == 0))
    db.session.execute(delete(Item).where(Item.id % 2 == 0))
    db.session.commit()
    kept = assert_exact()
    assert kept["users"][alice.user.id] == (200, 2)
    assert sum(kept["buckets"].values()) == 250


def test_deleting_a_bucket_cascades_to_its_items_and_counts(alice, buckets):
    first, second = buckets
    db.session.execute(insert(Item), rows(5, bucket_id=first, user_id=alice.user.id, name="i"))
    db.session.execute(insert(Item), rows(3, bucket_id=second, user_id=alice.user.id, name="i"))
    db.session.commit()
    db.session.execute(delete(Bucket).where(Bucket.id == first))
    db.session.commit()
    assert assert_exact() == {"users": {alice.user.id: (0, 1)}, "buckets": {second: 3}}


def test_deleting_an_account_cascades_without_error(alice, bob, buckets):
    db.session.execute(insert(Todo), rows(2, user_id=alice.user.id, title="t"))
    db.session.execute(insert(Item), rows(2, bucket_id=buckets[0], user_id=alice.user.id, name="i"))
    db.session.execute(insert(Todo), rows(1, user_id=bob.user.id, title="t"))
    db.session.commit()
    db.session.execute(delete(User).where(User.id == alice.user.id))
    db.session.commit()
    assert assert_exact() == {"users": {bob.user.id: (1, 0)}, "buckets": {}}


def test_moving_items_between_buckets(alice, buckets):
    first, second = buckets
    db.session.execute(insert(Item), rows(4, bucket_id=first, user_id=alice.user.id, name="i"))
    db.session.commit()
    # One through the ORM, two at once with Core; an UPDATE that moves nothing counts nothing.
    item = db.session.scalars(select(Item).order_by(Item.id)).first()
    item.bucket_id = second
    db.session.commit()
    moved = select(Item.id).where(Item.bucket_id == first).order_by(Item.id).limit(2)
    db.session.execute(update(Item).where(Item.id.in_(moved)).values(bucket_id=second))
    db.session.execute(update(Item).values(done=True, bucket_id=Item.bucket_id))
    db.session.commit()
    assert assert_exact()["buckets"] == {first: 1, second: 3}


def test_moving_todos_and_memberships_between_accounts(alice, bob, buckets):
    db.session.execute(insert(Todo), rows(3, user_id=alice.user.id, title="t"))
    db.session.commit()
    db.session.execute(update(Todo).where(Todo.id > 1).values(user_id=bob.user.id))
    moved = (Member.bucket_id == buckets[0]) & (Member.user_id == alice.user.id)
    db.session.execute(update(Member).where(moved).values(user_id=bob.user.id))
    db.session.commit()
    assert assert_exact()["users"] == {alice.user.id: (1, 1), bob.user.id: (2, 1)}


def test_the_session_sees_item_counts_change(alice, buckets):
    """A bucket held by the session reads its count again after items change."""
    bucket = db.session.get(Bucket, buckets[0])
    other = db.session.get(Bucket, buckets[1])
    assert (bucket.item_count, other.item_count) == (0, 0)
    item = Item(bucket_id=bucket.id, user_id=alice.user.id, name="i")
    db.session.add_all([item, Item(bucket_id=bucket.id, user_id=alice.user.id, name="j")])
    db.session.commit()
    assert bucket.item_count == 2
    item.bucket_id = other.id
    db.session.commit()
    assert (bucket.item_count, other.item_count) == (1, 1)
    db.session.delete(item)
    db.session.commit()
    assert (bucket.item_count, other.item_count) == (1, 0)
    # An item added behind the ORM's back: the bucket's own UPDATE brings the count back.
    db.session.refresh(other)
    db.session.execute(insert(Item), rows(1, bucket_id=other.id, user_id=alice.user.id, name="k"))
    other.name = "renamed"
    db.session.commit()
    assert "item_count" in inspect(other).dict and other.item_count == 1


def test_the_orm_never_writes_a_count(alice, statements):
    with statements.capture():
        bucket = Bucket(user_id=alice.user.id, name="b")
        db.session.add(bucket)
        db.session.commit()
        bucket.name = "c"
        db.session.commit()
    writes = [s for s in statements if s.lstrip().upper().startswith(("INSERT", "UPDATE"))]
    writes = [s for s in writes if "sync_" not in s]  # the sync record (models.sync)
    assert len(writes) == 2
    # Read back with RETURNING, never written.
    assert not any("item_count" in s.partition("RETURNING")[0] for s in writes)
    assert bucket.item_count == 0


def test_seeding_in_bulk_counts_exactly(app):
    accounts = seeding.seed(
        seeding.Plan(users=3, todos=40, buckets=7, items=500), "password-123", 7,
        hash_method=app.config["PASSWORD_HASH_METHOD"], batch_size=64,
    )  # fmt: skip
    kept = assert_exact()
    assert {id: kept["users"][id] for id, _ in accounts} == {id: (40, 7) for id, _ in accounts}
    assert sum(kept["buckets"].values()) == 3 * 500


@pytest.mark.postgres
@pytest.mark.skipif(
    not TEST_DATABASE_URL, reason="SQLite lets one writer in at a time: no increment can race"
)
def test_concurrent_writers_never_lose_an_increment(alice, buckets):
    """Each writer's own transaction adds and removes items in the same bucket at once."""
    writers, each = 8, 25
    bucket_id, engine = buckets[0], db.engine

    def write(seed: int) -> None:
        rng = Random(seed)
        with engine.connect() as connection:
            for _ in range(each):
                with connection.begin():
                    connection.execute(
                        insert(Item),
                        rows(2, bucket_id=bucket_id, user_id=alice.user.id, name="i"),
                    )
                    if rng.random() < 0.5:
                        mine = select(Item.id).where(Item.bucket_id == bucket_id).limit(1)
                        connection.execute(delete(Item).where(Item.id.in_(mine)))

    together([lambda seed=seed: write(seed) for seed in range(writers)])
    assert assert_exact()["buckets"][bucket_id] > 0
