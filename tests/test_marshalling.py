"""The compiled marshaller gives exactly what Flask-RESTX's own marshal gives."""

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import flask_restx
import pytest
from werkzeug.exceptions import BadRequest

from api.marshalling import marshal
from api.masks import masked_model
from namespaces.auth import key, new_key, token, user
from namespaces.bucketlist import bucket, item
from namespaces.todos import todo

NOW = datetime(2026, 11, 22, 12, 30, 15, 123456, tzinfo=UTC)


def an_item(id, bucket_id=1):
    return SimpleNamespace(
        id=id, bucket_id=bucket_id, name=f"item {id}", description="", done=id % 2 == 0,
        created_at=NOW, updated_at=NOW + timedelta(seconds=id),
    )  # fmt: skip


SAMPLES = {
    "todo": (todo, SimpleNamespace(
        id=3, title="Buy milk", description="Semi", done=True, created_at=NOW, updated_at=NOW
    )),
    "todo with nones": (todo, SimpleNamespace(
        id=4, title="x", description=None, done=None, created_at=None, updated_at=NOW
    )),
    "bucket": (bucket, SimpleNamespace(
        id=1, name="Travel", description="", created_at=NOW, updated_at=NOW, item_count=2,
        items=[an_item(1), an_item(2)],
    )),
    "empty bucket": (bucket, SimpleNamespace(
        id=2, name="Empty", description="", created_at=NOW, updated_at=NOW, item_count=0, items=[]
    )),
    "item": (item, an_item(7, bucket_id=9)),
    "user": (user, SimpleNamespace(id=1, email="ada@example.com", created_at=NOW)),
    "key": (key, SimpleNamespace(id=1, name="k", prefix="tdk_abc", created_at=NOW)),
    "new key dict": (new_key, {
        "id": 1, "name": "k", "prefix": "tdk_abc", "key": "tdk_secret", "created_at": NOW
    }),
    "token dict": (token, {"access_token": "abc", "token_type": "Bearer", "expires_in": 60}),
}  # fmt: skip


MASKS = [None, "*", "{id,name,title}", "{items{name}}"]


def fits(model, mask) -> bool:
    try:
        masked_model(model, mask)
    except BadRequest:
        return False
    return True


CASES = [
    (name, mask) for name, (model, _) in SAMPLES.items() for mask in MASKS if fits(model, mask)
]


@pytest.mark.parametrize(("name", "mask"), CASES)
def test_same_output_as_flask_restx(app, name, mask):
    model, obj = SAMPLES[name]
    fields = masked_model(model, mask)
    with app.test_request_context("/"):
        expected = flask_restx.marshal(obj, fields)
        assert marshal(obj, fields) == expected
        assert marshal([obj, obj], fields) == [expected, expected]
        assert list(marshal(obj, fields)) == list(expected)
