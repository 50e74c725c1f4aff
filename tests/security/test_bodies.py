"""Bodies that are too large, not JSON, not UTF-8, too deep or full of numbers no column
holds, and ids no column holds: a 4xx with a JSON message, and nothing written."""

from contextlib import contextmanager, nullcontext

import pytest
from sqlalchemy import func, select

from models import ApiKey, Bucket, Item, Todo, User, db
from tests.security.routes import BODIES, BODY_METHODS, PUBLIC, WITH_BODY, WITH_IDS, ids, url


def counts() -> list[int]:
    db.session.expire_all()
    return [
        db.session.scalar(select(func.count()).select_from(model))
        for model in (User, ApiKey, Todo, Bucket, Item)
    ]


@contextmanager
def signed_in(client, account, path: str):
    """`client` signed in as `account` with the credential `path` takes: logout takes only
    a bearer token (an API key is refused there before its body, as a stranger is)."""
    if path != "/auth/logout":
        with client.login(account):
            yield
        return
    login = {"email": account.email, "password": account.password}
    token = client.post("/api/v1/auth/login", json=login).get_json()["access_token"]
    previous = client.default_headers
    client.default_headers = {**previous, "Authorization": f"Bearer {token}"}
    try:
        yield
    finally:
        client.default_headers = previous


def send(client, method, path, ids, data, content_type="application/json"):
    return getattr(client, method)(url(path, ids), data=data, content_type=content_type)


def assert_refused(response, status: int):
    assert response.status_code == status, response.get_data(as_text=True)[:300]
    assert response.is_json and response.get_json()["message"]


@pytest.mark.parametrize(("method", "path"), BODY_METHODS, ids=ids(BODY_METHODS))
@pytest.mark.parametrize("signed_in_", [True, False], ids=["signed in", "anonymous"])
def test_bodies_over_the_limit_are_413(app, client, alice, alices, method, path, signed_in_):
    """413 whether or not the operation reads the body; a stranger to a protected
    operation learns no more than its 401. (An import's limit is its own setting: here
    the same as every other body's.)"""
    app.config["MAX_IMPORT_LENGTH"] = app.config["MAX_CONTENT_LENGTH"]
    before = counts()
    body = '{"name": "' + "a" * (1024 * 1024) + '"}'
    with signed_in(client, alice, path) if signed_in_ else nullcontext():
        response = send(client, method, path, alices, body)
    assert_refused(response, 413 if signed_in_ or (method, path) in PUBLIC else 401)
    assert counts() == before


NOT_JSON = {
    "text": ("text/plain", '{"title": "x"}'),
    "form": ("application/x-www-form-urlencoded", "title=x&name=x"),
    "multipart": (
        "multipart/form-data; boundary=b",
        '--b\r\nContent-Disposition: form-data; name="title"\r\n\r\nx\r\n--b--\r\n',
    ),
    "xml": ("application/xml", "<todo><title>x</title></todo>"),
    "none": ("", '{"title": "x"}'),
}


@pytest.mark.parametrize(("method", "path"), BODY_METHODS, ids=ids(BODY_METHODS))
def test_bodies_that_are_not_json_are_415(client, alice, alices, method, path):
    before = counts()
    with signed_in(client, alice, path):
        for name, (content_type, data) in NOT_JSON.items():
            response = send(client, method, path, alices, data, content_type)
            assert response.status_code == 415, name
            assert response.get_json()["message"]
    assert counts() == before


def nested(depth: int) -> str:
    return '{"title": "x", "name": "x", "deep": ' + "[" * depth + "]" * depth + "}"


BAD_JSON = {
    "malformed": "{not json",
    "truncated": '{"title": "x"',
    "invalid UTF-8": b'{"title": "\xff\xfe", "name": "\xc3\x28"}',
    "lone surrogate": '{"title": "\\ud800", "name": "\\ud800"}',
    "NaN": '{"title": "x", "name": "x", "done": NaN}',
    "number too large": '{"title": "x", "name": "x", "n": 1' + "0" * 400 + "}",
    "NUL in a value": (
        '{"title": "a\\u0000b", "name": "a\\u0000b", '
        '"email": "a\\u0000@example.com", "password": "pass\\u0000word"}'
    ),
    "NUL in a key": '{"title": "x", "name": "x", "a\\u0000": 1}',
    "nested 40 deep": nested(40),
    "nested 100000 deep": nested(100_000),
}


@pytest.mark.parametrize(("method", "path"), WITH_BODY, ids=ids(WITH_BODY))
def test_bodies_that_are_not_usable_json_are_400(client, alice, alices, method, path):
    before = counts()
    with client.login(alice):
        for name, data in BAD_JSON.items():
            response = send(client, method, path, alices, data)
            assert response.status_code == 400, name
            assert response.get_json()["message"].startswith("The body is not valid JSON"), name
    assert counts() == before


HUGE_NUMBERS = [2**31, 2**53 + 1, 2**63, 2**64, 10**30, -(2**63) - 1]


@pytest.mark.parametrize(("method", "path"), WITH_BODY, ids=ids(WITH_BODY))
def test_huge_integers_in_bodies_are_400(client, alice, alices, method, path):
    before = counts()
    # A move's body has `after` alone.
    has_done = path.startswith(("/todos/", "/bucketlists/{bucket}/items/"))
    fields = [*BODIES[path], *(["done"] if has_done and not path.endswith("/move") else [])]
    with client.login(alice):
        for number in HUGE_NUMBERS:
            for field in fields:
                response = getattr(client, method)(
                    url(path, alices), json={**BODIES[path], field: number}
                )
                assert_refused(response, 400)
    assert counts() == before


@pytest.mark.parametrize(("method", "path"), WITH_IDS, ids=ids(WITH_IDS))
def test_ids_no_column_holds_are_404(client, alice, alices, method, path):
    names = [name for name in alices if "{" + name + "}" in path]
    with client.login(alice):
        for number in (2**31, 2**32 + 1, 2**63, 2**64, 10**100):
            for name in names:
                response = getattr(client, method)(
                    url(path, {**alices, name: number}), json=BODIES.get(path)
                )
                assert_refused(response, 404)


@pytest.mark.parametrize(("method", "path"), WITH_BODY, ids=ids(WITH_BODY))
def test_json_subtypes_are_json(client, alice, alices, method, path):
    with client.login(alice):
        response = getattr(client, method)(
            url(path, alices), json=BODIES[path], content_type="application/merge-patch+json"
        )
    assert response.status_code in (200, 201)
