"""One way to send requests, in process or over real HTTP, and to send many at once."""

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, NamedTuple

from werkzeug.datastructures import Headers


class Result(NamedTuple):
    status: int
    headers: Headers
    body: Any


class AppHttp:
    """Requests through the Flask test client; each call may run on its own thread."""

    def __init__(self, app, headers: Mapping[str, str]):
        self.app, self.headers = app, dict(headers)

    def __call__(self, method: str, path: str, json=None, headers=None) -> Result:
        client = self.app.test_client()
        response = client.open(
            "/api/v1" + path, method=method, json=json, headers={**self.headers, **(headers or {})}
        )
        body = response.get_json(silent=True)
        return Result(response.status_code, Headers(response.headers), body)


class LiveHttp:
    """Requests over HTTP to a running server."""

    def __init__(self, base_url: str, headers: Mapping[str, str]):
        self.base_url, self.headers = base_url + "/api/v1", dict(headers)

    def __call__(self, method: str, path: str, json=None, headers=None) -> Result:
        return call(self.base_url + path, method, json, {**self.headers, **(headers or {})})


def call(url: str, method: str = "GET", body=None, headers=None) -> Result:
    data = None if body is None else json.dumps(body).encode()
    headers = dict(headers or {})
    if data is not None:
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status, raw, received = response.status, response.read(), response.headers
    except urllib.error.HTTPError as error:
        status, raw, received = error.code, error.read(), error.headers
    return Result(status, Headers(list(received.items())), json.loads(raw) if raw else None)


def live_account(base_url: str, email: str, password: str = "password-123") -> dict:
    """Register over HTTP and return headers that authenticate as the new account."""
    api = base_url + "/api/v1"
    registered = call(api + "/auth/register", "POST", {"email": email, "password": password})
    assert registered.status == 201, registered
    login = call(api + "/auth/login", "POST", {"email": email, "password": password})
    assert login.status == 200, login
    return {"Authorization": "Bearer " + login.body["access_token"]}


def together(tasks: list[Callable[[], Any]], timeout: float = 60) -> list[Any]:
    """Run the tasks on their own threads, released at the same moment; their results."""
    barrier = threading.Barrier(len(tasks), timeout=timeout)

    def run(task):
        barrier.wait()
        return task()

    with ThreadPoolExecutor(max_workers=len(tasks)) as pool:
        futures = [pool.submit(run, task) for task in tasks]
        return [future.result(timeout=timeout) for future in futures]
