"""`manage.py serve` under load: a reload fails no request, a shutdown answers every
request in flight, and the metrics add up across workers, restarts included.

Each test drives a real gunicorn (2 workers) on a loopback port with a bounded load:
a few threads, each request on a new connection, for a few seconds.
"""

import json
import os
import signal
import socket
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from manage import GUNICORN_CONFIG
from tests.live import call, children, manage, register, server_process
from tests.test_metrics import sample

pytestmark = pytest.mark.slow

CLIENTS = 8
GRACEFUL_TIMEOUT = 10


@pytest.fixture
def env(tmp_path, database):
    if database is not None:
        pytest.skip("the server's own behaviour; SQLite keeps the test self-contained")
    env = {
        "APP_ENV": "production",
        "SECRET_KEY": "operations-secret",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'served.db'}",
        "RATELIMIT_DEFAULT": "1000000 per hour",
    }
    manage("db", "upgrade", env=env)
    return env


@pytest.fixture
def config_file(tmp_path) -> Path:
    """The production settings with a shorter grace period, so a test need not wait 30 s."""
    path = tmp_path / "gunicorn.conf.py"
    path.write_text(
        f"exec(open({str(GUNICORN_CONFIG)!r}).read())\ngraceful_timeout = {GRACEFUL_TIMEOUT}\n"
    )
    return path


class Load:
    """`CLIENTS` threads sending a list GET or a POST in turn until stopped (at most
    `seconds`), each on a new connection; every outcome is kept with its start time."""

    def __init__(self, url: str, headers: dict, seconds: float):
        self.url, self.headers, self.seconds = url, headers, seconds
        self.outcomes: list[tuple[float, str]] = []  # (started, "200" / "201" / error)
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self.client, args=(n,)) for n in range(CLIENTS)]

    def client(self, number: int) -> None:
        deadline = time.monotonic() + self.seconds
        sent = 0
        while not self.stop.is_set() and time.monotonic() < deadline:
            sent += 1
            started = time.monotonic()
            try:
                if sent % 2:
                    status, _, _ = call("GET", self.url + "/api/v1/todos/", None, self.headers)
                else:
                    body = {"title": f"load {number}-{sent}"}
                    status, _, _ = call("POST", self.url + "/api/v1/todos/", body, self.headers)
                outcome = str(status)
            except OSError as error:
                outcome = type(error).__name__
            self.outcomes.append((started, outcome))

    def __enter__(self):
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for thread in self.threads:
            thread.join()

    def failures(self, before: float = float("inf")) -> list[str]:
        return [o for started, o in self.outcomes if started < before and o not in ("200", "201")]


def wait_for(condition, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_a_reload_under_load_fails_no_request(env, config_file, tmp_path):
    log = tmp_path / "server.log"
    command = ("serve", "--workers", "2", "--config", str(config_file))
    with server_process(*command, env=env, log=log) as (url, process):
        account = register(url, "reload@example.com")
        wait_for(lambda: len(children(process.pid)) == 2)
        old = children(process.pid)
        with Load(url, account.headers, seconds=20) as load:
            time.sleep(3)
            process.send_signal(signal.SIGHUP)
            # New workers answer, and the old ones have finished what they held.
            wait_for(lambda: len(children(process.pid)) == 2 and not old & children(process.pid))
            time.sleep(3)
        assert process.poll() is None
    answered = [o for _, o in load.outcomes if o in ("200", "201")]
    print(f"reload: {len(answered)} answered, {len(load.failures())} failed")  # for -s runs
    assert len(answered) > 200, len(answered)
    assert load.failures() == []


class SlowUpload:
    """A POST whose body arrives in two parts, the second `pause` seconds after the first:
    a request a worker has accepted and is still reading."""

    def __init__(self, url: str, headers: dict, pause: float):
        host, port = url.removeprefix("http://").split(":")
        self.address, self.headers, self.pause = (host, int(port)), headers, pause
        self.body = json.dumps({"title": "Sent slowly"}).encode()
        self.sent_first_part = threading.Event()
        self.answer: bytes = b""
        self.thread = threading.Thread(target=self.send)

    def send(self) -> None:
        head = [
            "POST /api/v1/todos/ HTTP/1.1",
            f"Host: {self.address[0]}",
            "Content-Type: application/json",
            f"Content-Length: {len(self.body)}",
            "Connection: close",
            *(f"{name}: {value}" for name, value in self.headers.items()),
        ]
        try:
            with socket.create_connection(self.address, timeout=30) as sock:
                half = len(self.body) // 2
                sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + self.body[:half])
                self.sent_first_part.set()
                time.sleep(self.pause)
                sock.sendall(self.body[half:])
                while chunk := sock.recv(65536):
                    self.answer += chunk
        except OSError as error:  # the server dropped it: no status, and the test says so
            self.answer = f"dropped: {error!r}".encode()

    @property
    def status(self) -> int | str:
        line = self.answer.split(b"\r\n", 1)[0].split()
        return int(line[1]) if line[:1] == [b"HTTP/1.1"] else self.answer.decode()


def test_a_shutdown_answers_every_request_in_flight_and_ends_in_time(env, config_file, tmp_path):
    log = tmp_path / "server.log"
    command = ("serve", "--workers", "2", "--config", str(config_file))
    with server_process(*command, env=env, log=log) as (url, process):
        account = register(url, "shutdown@example.com")
        uploads = [SlowUpload(url, account.headers, pause=2.0) for _ in range(3)]
        with Load(url, account.headers, seconds=15) as load:
            time.sleep(2)
            for upload in uploads:
                upload.thread.start()
                upload.sent_first_part.wait(5)
            time.sleep(0.5)  # the workers are reading them
            terminated = time.monotonic()
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=GRACEFUL_TIMEOUT + 5)
            exited = time.monotonic() - terminated
        for upload in uploads:
            upload.thread.join(10)
    before = [o for started, o in load.outcomes if started < terminated]
    print(f"shutdown: exited {exited:.2f} s after SIGTERM; {len(before)} requests before it")
    assert [upload.status for upload in uploads] == [201, 201, 201]
    assert exited < GRACEFUL_TIMEOUT, exited
    # Requests answered before the signal all succeeded; after it, new connections may be
    # refused, but no answer is an error.
    assert load.failures(before=terminated - 0.5) == []
    errors = [o for _, o in load.outcomes if o.isdigit() and o not in ("200", "201")]
    assert errors == []
    assert process.returncode == 0


def metrics_of(url: str) -> str:
    with urllib.request.urlopen(url + "/metrics", timeout=10) as response:
        return response.read().decode()


def test_metrics_add_up_across_workers_and_survive_a_restart(env, config_file, tmp_path):
    env = {**env, "METRICS_ENABLED": "1"}
    log = tmp_path / "server.log"
    command = ("serve", "--workers", "2", "--config", str(config_file))
    with server_process(*command, env=env, log=log) as (url, process):
        wait_for(lambda: len(children(process.pid)) == 2)
        route = {"route": "/healthz", "method": "GET", "status": "200"}
        before = sample(metrics_of(url), "todos_http_requests_total", **route) or 0
        for _ in range(60):
            assert call("GET", url + "/healthz")[0] == 200
        counted = sample(metrics_of(url), "todos_http_requests_total", **route)
        assert counted == before + 60
        victim = min(children(process.pid))
        os.kill(victim, signal.SIGKILL)
        wait_for(lambda: len(children(process.pid)) == 2 and victim not in children(process.pid))
        for _ in range(20):
            assert call("GET", url + "/healthz")[0] == 200
        # The killed worker's requests still count.
        assert sample(metrics_of(url), "todos_http_requests_total", **route) == counted + 20
        assert sample(metrics_of(url), "todos_db_pool_connections_in_use") == 0
    assert "Traceback" not in log.read_text()


def test_metrics_from_elsewhere_need_the_token(env, config_file, tmp_path):
    """Through a proxy that says where the client is (TRUSTED_PROXIES), a remote scraper
    without the token gets a JSON 401, and one with it the figures."""
    token = "operations-metrics-token-0123"
    env = {**env, "METRICS_ENABLED": "1", "METRICS_TOKEN": token, "TRUSTED_PROXIES": "1"}
    log = tmp_path / "server.log"
    with server_process("serve", "--workers", "1", env=env, log=log) as (url, _):
        remote = {"X-Forwarded-For": "198.51.100.7"}
        status, headers, body = call("GET", url + "/metrics", None, remote)
        assert status == 401 and body["message"]
        request = urllib.request.Request(
            url + "/metrics", headers={**remote, "Authorization": f"Bearer {token}"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert b"todos_http_requests_total" in response.read()
