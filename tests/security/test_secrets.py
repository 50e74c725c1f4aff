"""No password, password hash, token or key secret, nor their stored digests, ever leave
the server in a response or reach a log line: a token appears only in the login answer
that issues it, a key only in the answer that creates it."""

import pytest
from sqlalchemy import select

from models import AccessToken, ApiKey, User, db
from tests.security.conftest import HIGH_LIMITS
from tests.security.routes import BODIES, PROTECTED, url

PASSWORD = "correct horse battery staple"
EMAIL = "ada@example.com"


@pytest.fixture
def config_overrides():
    return {**HIGH_LIMITS, "LOG_FORMAT": "json", "LOG_LEVEL": "DEBUG"}


def exercise_every_route(client) -> tuple[list, dict]:
    """Use the API as a client would, every operation included; returns every answer and
    the secrets that were issued on the way."""
    answers = []

    def send(method, path, **kwargs):
        response = getattr(client, method)(path, **kwargs)
        answers.append((f"{method.upper()} {path}", response))
        return response

    send("post", url("/auth/register"), json={"email": EMAIL, "password": PASSWORD})
    token = send(
        "post", url("/auth/login"), json={"email": EMAIL, "password": PASSWORD}
    ).get_json()["access_token"]
    basic_token = send("post", url("/auth/login"), auth=(EMAIL, PASSWORD)).get_json()
    bearer = {"Authorization": f"Bearer {token}"}
    key = send("post", url("/auth/keys/"), json={"name": "laptop"}, headers=bearer).get_json()
    headers = {"X-API-KEY": key["key"], "X-Fields": "*"}

    ids = {"key": key["id"]}
    ids["todo"] = send("post", url("/todos/"), json=BODIES["/todos/"], headers=headers).get_json()[
        "id"
    ]
    ids["bucket"] = send(
        "post", url("/bucketlists/"), json=BODIES["/bucketlists/"], headers=headers
    ).get_json()["id"]
    ids["item"] = send(
        "post", url("/bucketlists/{bucket}/items/", ids), json={"name": "x"}, headers=headers
    ).get_json()["id"]
    # The list's one member is its owner.
    ids["member"] = db.session.scalars(select(User.id)).one()
    issued = {
        "password": PASSWORD,
        "password hash": db.session.scalars(select(User)).one().password_hash,
        "token": token,
        "basic token": basic_token["access_token"],
        "key": key["key"],
        "key secret part": key["key"][len(key["prefix"]) :],
        "token digests": [t.digest for t in db.session.scalars(select(AccessToken))],
        "key digests": [k.digest for k in db.session.scalars(select(ApiKey))],
    }
    # Every protected operation, deletions last so the others find their rows.
    for method, path in sorted(PROTECTED, key=lambda op: op[0] == "delete"):
        if (method, path) not in (("post", "/auth/logout"), ("delete", "/auth/keys/{key}")):
            send(method, url(path, ids), json=BODIES.get(path), headers=headers)
    # Failures, and secrets where they do not belong.
    send("post", url("/auth/login"), json={"email": EMAIL, "password": PASSWORD + "x"})
    send("post", url("/auth/login"), auth=(EMAIL, PASSWORD + "x"))
    send("get", url("/auth/me"), headers={"X-API-KEY": key["key"] + "x"})
    send("get", url("/auth/me"), headers={"Authorization": f"Bearer {token}x"})
    send("get", url("/todos/") + f"?api_key={key['key']}&password={PASSWORD}")
    send("post", url("/auth/logout"), headers=bearer)
    send("get", url("/auth/me"), headers=bearer)
    send("delete", url("/auth/keys/{key}", ids), headers=headers)
    return answers, issued


def secrets_in(text: str, issued: dict, allowed: tuple = ()) -> list[str]:
    found = []
    for name, value in issued.items():
        for secret in value if isinstance(value, list) else [value]:
            if secret in text and secret not in allowed:
                found.append(name)
    for marker in ("pbkdf2:", "scrypt:"):
        if marker in text:
            found.append(marker)
    return found


def test_no_secret_in_any_response_or_log_line(client, capsys):
    capsys.readouterr()
    answers, issued = exercise_every_route(client)
    logs = capsys.readouterr().err
    assert len(answers) >= 30 and logs.count("\n") >= len(answers)

    for label, response in answers:
        text = response.get_data(as_text=True) + str(response.headers)
        allowed = ()
        if label == "POST /api/v1/auth/login" and response.status_code == 200:
            allowed = (response.get_json()["access_token"],)
        if label == "POST /api/v1/auth/keys/":
            allowed = (issued["key"], issued["key secret part"])
        assert secrets_in(text, issued, allowed) == [], label
    assert secrets_in(logs, issued) == []
