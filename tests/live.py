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
from typing import Any, NamedTuple

from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent


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
def server(*command: str, log: Path, env: dict | None = None, port: int | None = None):
    """Run `python manage.py <command...> --port PORT` and yield its base URL.

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
            yield url
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


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


class Reply(NamedTuple):
    status: int
    headers: Any
    body: Any


def call(url: str, method: str = "GET", body=None, headers: dict | None = None) -> Reply:
    """One HTTP request with an optional JSON body; the reply's JSON body decoded."""
    headers = dict(headers or {})
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers.setdefault("Content-Type", "application/json")
    request = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status, reply_headers, raw = response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        status, reply_headers, raw = error.code, error.headers, error.read()
    return Reply(status, reply_headers, json.loads(raw) if raw else None)


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
    assert (
        call(api + "/auth/register", "POST", {"email": email, "password": password}).status == 201
    )
    login = call(api + "/auth/login", "POST", {"email": email, "password": password})
    bearer = {"Authorization": f"Bearer {login.body['access_token']}"}
    key = call(api + "/auth/keys/", "POST", {"name": "live"}, bearer).body
    return LiveAccount(email, password, key["key"], key["id"])
