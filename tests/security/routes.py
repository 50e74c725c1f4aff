"""Every operation of the API, as the security tests address them.

Paths name their ids (`{todo}`, `{bucket}`, `{item}`, `{key}`, `{member}`: an account
that is a member of the list) so a test can fill them
with real ids, with ones that do not exist, or with hostile strings.
"""

import re

API = "/api/v1"

PUBLIC = [("post", "/auth/register"), ("post", "/auth/login")]
PROTECTED = [
    ("post", "/auth/logout"),
    ("get", "/auth/me"),
    ("patch", "/auth/me"),
    ("delete", "/auth/me"),
    ("get", "/auth/me/export"),
    ("post", "/auth/me/import"),
    ("get", "/auth/keys/"),
    ("post", "/auth/keys/"),
    ("get", "/auth/keys/{key}"),
    ("delete", "/auth/keys/{key}"),
    ("get", "/todos/"),
    ("post", "/todos/"),
    ("get", "/todos/{todo}"),
    ("put", "/todos/{todo}"),
    ("patch", "/todos/{todo}"),
    ("delete", "/todos/{todo}"),
    ("post", "/todos/{todo}/move"),
    ("get", "/todos/tags/"),
    ("get", "/bucketlists/"),
    ("post", "/bucketlists/"),
    ("get", "/bucketlists/{bucket}"),
    ("put", "/bucketlists/{bucket}"),
    ("patch", "/bucketlists/{bucket}"),
    ("delete", "/bucketlists/{bucket}"),
    ("get", "/bucketlists/{bucket}/items/"),
    ("post", "/bucketlists/{bucket}/items/"),
    ("get", "/bucketlists/{bucket}/items/{item}"),
    ("put", "/bucketlists/{bucket}/items/{item}"),
    ("patch", "/bucketlists/{bucket}/items/{item}"),
    ("delete", "/bucketlists/{bucket}/items/{item}"),
    ("post", "/bucketlists/{bucket}/items/{item}/move"),
    ("get", "/bucketlists/{bucket}/members/"),
    ("post", "/bucketlists/{bucket}/members/"),
    ("get", "/bucketlists/{bucket}/members/{member}"),
    ("patch", "/bucketlists/{bucket}/members/{member}"),
    ("delete", "/bucketlists/{bucket}/members/{member}"),
]
OPERATIONS = PUBLIC + PROTECTED

# A valid body for each path that takes one.
BODIES = {
    "/auth/register": {"email": "newcomer@example.com", "password": "password-123"},
    "/auth/login": {"email": "alice@example.com", "password": "password-123"},
    "/auth/keys/": {"name": "laptop"},
    "/auth/me/import": {"format": "todos-api.account", "version": 1, "todos": [{"title": "t"}]},
    "/todos/": {"title": "Buy milk"},
    "/todos/{todo}": {"title": "Buy milk"},
    "/todos/{todo}/move": {"after": None},
    "/bucketlists/": {"name": "Travel"},
    "/bucketlists/{bucket}": {"name": "Travel"},
    "/bucketlists/{bucket}/items/": {"name": "See the aurora"},
    "/bucketlists/{bucket}/items/{item}": {"name": "See the aurora"},
    "/bucketlists/{bucket}/items/{item}/move": {"after": None},
    "/bucketlists/{bucket}/members/": {"email": "carol@example.com", "role": "viewer"},
    "/bucketlists/{bucket}/members/{member}": {"role": "viewer"},
}
# Operations whose body is parsed (logout takes none; DELETE and GET never read one).
WITH_BODY = [(m, p) for m, p in OPERATIONS if m in ("post", "put", "patch") and p in BODIES]
# Every POST, PUT and PATCH: the body checks apply whether or not the body is read.
BODY_METHODS = [(m, p) for m, p in OPERATIONS if m in ("post", "put", "patch")]
# A list's members are one short array, not pages: it takes no list arguments.
ARRAYS = [("get", "/bucketlists/{bucket}/members/")]
LISTS = [(m, p) for m, p in PROTECTED if m == "get" and p.endswith("/") and (m, p) not in ARRAYS]
ONE = [(m, p) for m, p in PROTECTED if m == "get" and not p.endswith("/")]
WITH_IDS = [(m, p) for m, p in PROTECTED if "{" in p]

ONES = {"todo": 1, "bucket": 1, "item": 1, "key": 1, "member": 1}


def url(path: str, ids: dict | None = None) -> str:
    return API + path.format(**(ONES if ids is None else ids))


def template(path: str) -> str:
    """`/bucketlists/{bucket}/items/{item}` -> `/bucketlists/{}/items/{}`."""
    return re.sub(r"\{[^}]*\}", "{}", path)


def ids(operations) -> list[str]:
    return [f"{operation[0].upper()} {operation[1]}" for operation in operations]
