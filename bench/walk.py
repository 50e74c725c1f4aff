"""The path of one request through the project's code: the modules and functions it enters.

    .venv/bin/python bench/walk.py

Seeds an account with one todo and one bucket list in a temporary SQLite database, then
traces one `GET /todos/{id}` and one `PATCH /todos/{id}` (with `If-Match`) after a warm-up
call of each, and prints how many distinct project functions (in `api/`, `namespaces/`,
`models/`) each entered, in how many modules, and the calls made to them. `--list` also
prints the functions, in the order they were first entered.
"""

import argparse
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROJECT = tuple(str(ROOT / folder) + os.sep for folder in ("api", "namespaces", "models"))


def build_app(folder: str):
    sys.path.insert(0, str(ROOT))
    from api.config import TestingConfig

    try:
        from api.factory import create_app
    except ImportError:  # the layout before `api/` was grouped into subpackages
        from api.app import create_app
    config = TestingConfig(
        SQLALCHEMY_DATABASE_URI=f"sqlite:///{folder}/walk.db",
        PROPAGATE_EXCEPTIONS=False,
        LOG_LEVEL="WARNING",
        RATELIMIT_DEFAULT="1000000 per hour",
    )
    return create_app(config)


def seed(app) -> tuple[dict, str]:
    from models import ApiKey, User, db

    with app.app_context():
        db.create_all()
        user = User(email="walk@example.com")
        user.set_password("password-123", "pbkdf2:sha256:1000")
        db.session.add(user)
        db.session.flush()
        key, secret = ApiKey.issue(user, "walk")
        db.session.add(key)
        db.session.commit()
    headers = {"X-API-KEY": secret}
    created = app.test_client().post("/api/v1/todos/", json={"title": "Walk"}, headers=headers)
    return headers, created.get_json()["uri"].split("/api/v1", 1)[1]


def traced(call) -> list[tuple[str, str]]:
    """The project functions `call()` enters, one entry per call, in order."""
    entered = []

    def profile(frame, event, arg):
        if event == "call" and frame.f_code.co_filename.startswith(PROJECT):
            path = os.path.relpath(frame.f_code.co_filename, ROOT)
            entered.append((path, frame.f_code.co_qualname))

    sys.setprofile(profile)
    try:
        call()
    finally:
        sys.setprofile(None)
    return entered


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--list", action="store_true", help="Print the functions entered.")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="todos-walk-") as folder:
        app = build_app(folder)
        headers, path = seed(app)
        client = app.test_client()
        url = "/api/v1" + path

        def get():
            assert client.get(url, headers=headers).status_code == 200

        def patch():
            tag = client.get(url, headers=headers).headers["ETag"]
            conditional = {**headers, "If-Match": tag}
            # The call traced: the PATCH alone, its tag read before.
            return lambda: client.patch(url, json={"done": True}, headers=conditional)

        for name, call in (("GET", lambda: get), ("PATCH", patch)):
            call()()  # warm-up: imports and caches out of the way
            entered = traced(call())
            functions = list(dict.fromkeys(entered))
            modules = {module for module, _ in functions}
            print(
                f"{name} {path}: {len(functions)} project functions in {len(modules)} "
                f"modules, {len(entered)} calls"
            )
            if args.list:
                for module, function in functions:
                    print(f"    {module}: {function}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
