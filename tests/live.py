"""Real server processes for end-to-end tests, on loopback ports, stopped by the test."""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent


def answers(port: int) -> bool:
    """Whether something listens on 127.0.0.1:`port` (PostgreSQL, Redis)."""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_healthy(url: str, process: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"the server at {url} did not become healthy in {timeout} s")


@contextmanager
def server_process(*command: str, log: Path, env: dict | None = None, port: int | None = None):
    """Run `python manage.py <command...> --port PORT`; yield its base URL and its process.

    `env` is added to this process's environment; the server's output goes to `log`.
    """
    port = port or free_port()
    environment = {**os.environ, "APP_ENV": "development", **(env or {})}
    with open(log, "ab") as output:
        process = subprocess.Popen(
            [sys.executable, "manage.py", *command, "--port", str(port)],
            cwd=ROOT,
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            wait_until_healthy(url, process)
            yield url, process
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@contextmanager
def server(*command: str, log: Path, env: dict | None = None, port: int | None = None):
    """Run `python manage.py <command...> --port PORT` and yield its base URL."""
    with server_process(*command, log=log, env=env, port=port) as (url, _):
        yield url


def manage(*command: str, env: dict, check: bool = True) -> str:
    """Run one `manage.py` command to completion, as an operator would; its output.

    With `check`, a failure raises; without, the command must fail.
    """
    done = subprocess.run(
        [sys.executable, "manage.py", *command],
        cwd=ROOT,
        env={**os.environ, "APP_ENV": "development", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    if check and done.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(command)} failed:\n{done.stderr}")
    if not check:
        assert done.returncode != 0, done.stdout
    return done.stdout + done.stderr


def children(pid: int) -> set[int]:
    """The ids of the processes whose parent is `pid` (gunicorn's workers, for its master)."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.add(int(stat.parent.name))
    return found


def call(method: str, url: str, body=None, headers: dict | None = None):
    """One HTTP request; returns (status, headers, decoded JSON body or None)."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    for name, value in {"Content-Type": "application/json", **(headers or {})}.items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status, head, raw = response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        status, head, raw = error.code, error.headers, error.read()
    return status, head, (json.loads(raw) if raw else None)


@contextmanager
def server_database(database: dict | None, folder: Path):
    """A `DATABASE_URL` of its own for a server process: an SQLite file in `folder`, or a
    fresh PostgreSQL schema (dropped afterwards) when the suite runs on PostgreSQL."""
    if database is None:
        yield f"sqlite:///{folder / 'server.db'}"
        return
    schema = f"server_{uuid.uuid4().hex[:12]}"
    engine = create_engine(database["url"])
    with engine.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        yield f"{database['url']}?options=-csearch_path%3D{schema}"
    finally:
        with engine.begin() as connection:
            connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        engine.dispose()


class LiveAccount(NamedTuple):
    email: str
    password: str
    key: str
    key_id: int

    @property
    def headers(self) -> dict:
        return {"X-API-KEY": self.key}


def register(url: str, email: str, password: str = "live-password-1") -> LiveAccount:
    """An account made over HTTP, as a client makes one, with one API key."""
    api = url + "/api/v1"
    credentials = {"email": email, "password": password}
    assert call("POST", api + "/auth/register", credentials)[0] == 201
    _, _, token = call("POST", api + "/auth/login", credentials)
    bearer = {"Authorization": f"Bearer {token['access_token']}"}
    _, _, key = call("POST", api + "/auth/keys/", {"name": "live"}, bearer)
    return LiveAccount(email, password, key["key"], key["id"])
