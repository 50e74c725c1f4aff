"""Hostile strings in every place a client puts text: a 4xx or an empty answer, never a
500 and never another user's rows."""

from urllib.parse import quote

import pytest

from tests.security.routes import ARRAYS, LISTS, ONE, WITH_IDS, ids, url

HOSTILE = {
    "sql quote": "' OR '1'='1",
    "sql comment": "1; DROP TABLE todos; --",
    "sql union": "x' UNION SELECT email, password_hash FROM users --",
    "like percent": "%",
    "like underscore": "_",
    "like escaped": "\\%",
    "backslash": "\\",
    "bidi override": "\u202egnp.exe",
    "astral": "\U0001d518\U0001d52b\U0001d526 \U0001f600",
    "dotted capital i": "\u0130\u0131",
    "combining": "e\u0301",
    "nul": "a\x00b",
    "very long": "x" * 10_000,
    "braces": "{id,title}{",
    "operator object": '{"$ne": null}',
    "traversal": "../../../etc/passwd",
    "markup": "<script>alert(1)</script>",
    "line breaks": "a\r\nX-Injected: 1",
}
SEARCHABLE = ["/todos/", "/bucketlists/", "/bucketlists/{bucket}/items/"]


def listing(client, path, ids, **query):
    return client.get(url(path, ids), query_string=query)


@pytest.mark.parametrize("path", SEARCHABLE)
def test_q_matches_literally_and_only_the_callers_rows(client, alices, bob, bobs, path):
    with client.login(bob):
        for name, text in HOSTILE.items():
            response = listing(client, path, bobs, q=text)
            assert response.status_code in (200, 400), name
            if response.status_code == 200:
                # Bob's only row is named "Bob's ...", which holds no hostile string, so
                # any row here would be a wildcard or an injection at work.
                assert response.get_json() == [], name
                assert response.headers["X-Total-Count"] == "0", name
        # The list without the filter still answers: nothing was dropped or damaged.
        assert len(listing(client, path, bobs).get_json()) == 1


@pytest.mark.parametrize(("method", "path"), LISTS, ids=ids(LISTS))
def test_list_arguments_are_refused(client, bob, bobs, method, path):
    arguments = ["sort", "cursor", "page", "per_page"]
    if path in ("/todos/", "/bucketlists/{bucket}/items/"):
        arguments.append("done")
    with client.login(bob):
        for argument in arguments:
            for name, text in HOSTILE.items():
                response = listing(client, path, bobs, **{argument: text})
                assert response.status_code == 400, (argument, name)
                assert response.is_json and response.get_json()["message"]


MASKED = LISTS + ARRAYS + ONE


@pytest.mark.parametrize(("method", "path"), MASKED, ids=ids(MASKED))
def test_masks(client, alices, bob, bobs, method, path):
    with client.login(bob):
        for name, text in HOSTILE.items():
            sent = [client.get(url(path, bobs), query_string={"fields": text})]
            if not any(c in text for c in "\r\n"):  # not a header value a client can send
                sent.append(client.get(url(path, bobs), headers={"X-Fields": text}))
            for response in sent:
                assert response.status_code in (200, 400), name
                assert "secret" not in response.get_data(as_text=True), name


@pytest.mark.parametrize(("method", "path"), WITH_IDS, ids=ids(WITH_IDS))
def test_path_segments(client, alices, bob, bobs, method, path):
    texts = [*HOSTILE.values(), "1 OR 1=1", "1.0", "-1", "0x1", "\u0661", "\uff11"]
    names = [name for name in bobs if "{" + name + "}" in path]
    with client.login(bob):
        for text in texts:
            for name in names:
                response = getattr(client, method)(url(path, {**bobs, name: quote(text, safe="")}))
                assert response.status_code == 404, (name, text)
                assert "secret" not in response.get_data(as_text=True)


@pytest.mark.parametrize("text", HOSTILE.values(), ids=HOSTILE.keys())
def test_login_and_register_refuse_hostile_credentials(client, alice, text):
    attempts = [
        client.post(url("/auth/login"), json={"email": text, "password": text}),
        client.post(url("/auth/login"), json={"email": alice.email, "password": text}),
        client.post(url("/auth/login"), auth=(text, alice.password)),
        client.post(url("/auth/register"), json={"email": text, "password": "password-123"}),
    ]
    for response in attempts:
        assert response.status_code in (400, 401), response.get_json()
        assert response.is_json and "access_token" not in response.get_json()


@pytest.mark.parametrize(("method", "path"), LISTS, ids=ids(LISTS))
def test_blank_masks_are_no_masks(client, bob, bobs, method, path):
    with client.login(bob):
        plain = client.get(url(path, bobs)).get_json()
        for blank in (" ", "\t", "\x1e"):
            response = client.get(url(path, bobs), query_string={"fields": blank})
            assert response.status_code == 200
            assert response.get_json() == plain


@pytest.mark.parametrize(("method", "path"), LISTS, ids=ids(LISTS))
@pytest.mark.parametrize("page", [2**31, 2**63, 10**40])
def test_pages_far_past_the_end_are_empty(client, bob, bobs, method, path, page):
    with client.login(bob):
        response = listing(client, path, bobs, page=page)
    assert response.status_code == 200
    assert response.get_json() == []
