"""A bucket's version covers its items: item changes make it a new version."""

import pytest
from sqlalchemy import update
from sqlalchemy.orm.exc import StaleDataError

from models import Bucket, Item, db


@pytest.fixture
def bucket(alice) -> Bucket:
    created = Bucket(user_id=alice.user.id, name="Trips")
    db.session.add(created)
    db.session.commit()
    return created


def version_of(bucket: Bucket) -> int:
    db.session.refresh(bucket)
    return bucket.version


def test_adding_changing_moving_and_removing_items_bump_buckets(alice, bucket):
    assert version_of(bucket) == 1
    item = Item(bucket_id=bucket.id, user_id=alice.user.id, name="Rome")
    db.session.add(item)
    db.session.commit()
    assert version_of(bucket) == 2

    item.name = "Rome"
    db.session.commit()
    assert version_of(bucket) == 2, "no change, no new version"

    item.done = True
    db.session.commit()
    assert version_of(bucket) == 3

    other = Bucket(user_id=alice.user.id, name="Books")
    db.session.add(other)
    db.session.commit()
    item.bucket_id = other.id
    db.session.commit()
    assert (version_of(bucket), version_of(other)) == (4, 2)

    db.session.delete(item)
    db.session.commit()
    assert (version_of(bucket), version_of(other)) == (4, 3)


def test_a_bucket_write_based_on_old_items_fails(alice, bucket):
    version = bucket.version
    # Another process adds an item meanwhile; the bucket moves to a new version.
    with db.engine.begin() as connection:
        buckets = Bucket.__table__
        connection.execute(
            update(buckets).where(buckets.c.id == bucket.id).values(version=version + 1)
        )
    bucket.name = "Journeys"
    with pytest.raises(StaleDataError):
        db.session.commit()
    db.session.rollback()
