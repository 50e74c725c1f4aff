"""Schemathesis against the live spec: no input is a 5xx, every answer is the spec's.

A real server (`manage.py run`) on its own database, an account and an API key made
over HTTP, then every operation of `swagger.json` fuzzed with a fixed seed and a fixed
number of examples, so the run is bounded and repeatable.
"""

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.live import call, register, server, server_database
from tests.security.conftest import FAST_HASH, HIGH_LIMITS

INSTALLED = importlib.util.find_spec("schemathesis") is not None
pytestmark = [
    pytest.mark.slow,
    pytest.mark.fuzz,
    # CI installs the fuzz extra (.ci/run); there a missing schemathesis is a failure.
    pytest.mark.skipif(
        not INSTALLED and not os.environ.get("CI"),
        reason="schemathesis is not installed: pip install -e '.[fuzz]'",
    ),
]

SEED = 20261122
EXAMPLES_PER_OPERATION = 100
HOOKS = Path(__file__).with_name("schemathesis_hooks.py")
CONFIG = Path(__file__).with_name("schemathesis.toml")


def seed_data(api: str, headers: dict) -> None:
    """A few rows with small ids, so generated ids also reach existing resources."""
    for title in ("First", "Second"):
        call("POST", api + "/todos/", {"title": title}, headers)
    _, _, bucket = call("POST", api + "/bucketlists/", {"name": "Travel"}, headers)
    for name in ("Aurora", "Fjords"):
        call("POST", api + f"/bucketlists/{bucket['id']}/items/", {"name": name}, headers)


def test_schemathesis_finds_no_failure(database, tmp_path):
    with (
        server_database(database, tmp_path) as url,
        server(
            "run",
            env={"DATABASE_URL": url, **FAST_HASH, **HIGH_LIMITS},
            log=tmp_path / "server.log",
        ) as base,
    ):
        account = register(base, "ada@example.com", "correct horse battery")
        seed_data(base + "/api/v1", account.headers)
        # A bearer token of its own for `POST /auth/logout`, which revokes it.
        login = {"email": account.email, "password": account.password}
        token = call("POST", base + "/api/v1/auth/login", login)[2]["access_token"]
        command = [
            Path(sys.executable).with_name("schemathesis"),
            "--config-file",
            str(CONFIG),
            "run",
            base + "/api/v1/swagger.json",
            # Every check, in every phase (examples, coverage, fuzzing, stateful); the
            # hooks drop only what no schema can state (see schemathesis_hooks.py).
            "--checks",
            "all",
            # Every string the API takes refuses NUL with a 400 (api.plumbing.hooks); a
            # pattern saying so on each one would bury the spec's real rules.
            "--generation-allow-x00",
            "false",
            "--seed",
            str(SEED),
            "--max-examples",
            str(EXAMPLES_PER_OPERATION),
            "--workers",
            "1",
            "--no-color",
            "--generation-database",
            "none",
            "--request-timeout",
            "30",
        ]
        environment = {
            **os.environ,
            "SCHEMATHESIS_HOOKS": str(HOOKS),
            "FUZZ_KEPT_KEY_ID": str(account.key_id),
            "FUZZ_API_KEY": account.key,
            "FUZZ_EMAIL": account.email,
            "FUZZ_PASSWORD": account.password,
            "FUZZ_BEARER_TOKEN": token,
        }
        run = subprocess.run(
            command,
            cwd=tmp_path,
            env=environment,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        # The key must have lasted the whole run, or the run tested mostly 401s.
        assert call("GET", base + "/api/v1/auth/me", headers=account.headers)[0] == 200
        expected = operations_in(base)
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-20000:]
    summary = output[output.rfind("SUMMARY") :]
    operations = re.search(r"Tested: (\d+)", summary)
    cases = re.search(r"(\d+) generated, (\d+) passed", summary)
    assert operations and cases, summary
    print(
        f"schemathesis: {operations[1]} operations, {cases[1]} cases, "
        f"{int(cases[1]) - int(cases[2])} failures (seed {SEED})"
    )
    assert int(operations[1]) == expected and cases[1] == cases[2]


def operations_in(base: str) -> int:
    return sum(
        method != "parameters"
        for item in call("GET", base + "/api/v1/swagger.json")[2]["paths"].values()
        for method in item
    )
