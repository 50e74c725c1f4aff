"""Fixtures for tests that drive headless Chromium through Playwright.

They skip, saying why, where the `playwright` package (`pip install -e '.[browser]'`) or
Debian's Chromium (`apt-get install chromium`, or a binary named by `CHROMIUM`) is missing;
with `REQUIRE_BROWSER_TESTS=1`, as in CI, they fail instead. Playwright's own browser
download is never used.
"""

import json
import os
import urllib.request
from typing import NamedTuple
from urllib.parse import urlsplit

import pytest

from tests.live import server

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
# Without the background-networking switches Chromium keeps calling home, which a closed
# network refuses and an offline test must not do.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def unavailable(reason: str):
    if os.environ.get("REQUIRE_BROWSER_TESTS") == "1":
        pytest.fail(f"REQUIRE_BROWSER_TESTS is set, but {reason}", pytrace=False)
    pytest.skip(reason, allow_module_level=True)


def playwright_api():
    """`playwright.sync_api`, or a skip (a failure where browser tests are required)."""
    try:
        from playwright import sync_api
    except ImportError:
        unavailable("the playwright package is not installed (pip install -e '.[browser]')")
    return sync_api


@pytest.fixture(scope="session")
def chromium():
    sync_api = playwright_api()
    if not os.access(CHROMIUM, os.X_OK):
        unavailable(f"no Chromium at {CHROMIUM} (apt-get install chromium, or set CHROMIUM)")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class Demo(NamedTuple):
    """A live server holding one account, its API key and a todo."""

    url: str
    key: str
    todo_title: str

    @property
    def docs(self) -> str:
        return self.url + "/api/v1/"


def call(url: str, method: str = "GET", body=None, headers: dict | None = None):
    request = urllib.request.Request(
        url,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Content-Type": "application/json", **(headers or {})},
        method=method,
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


@pytest.fixture(scope="module")
def demo(chromium, tmp_path_factory):
    """The account, key and todo are made through the HTTP API, as a client would."""
    folder = tmp_path_factory.mktemp("swagger-ui")
    env = {"DATABASE_URL": f"sqlite:///{folder / 'live.db'}"}
    with server("run", env=env, log=folder / "server.log") as url:
        api = url + "/api/v1"
        credentials = {"email": "ada@example.com", "password": "correct horse battery"}
        call(api + "/auth/register", "POST", credentials)
        token = call(api + "/auth/login", "POST", credentials)["access_token"]
        key = call(
            api + "/auth/keys/",
            "POST",
            {"name": "swagger-ui"},
            {"Authorization": f"Bearer {token}"},
        )["key"]
        title = "Buy milk"
        call(api + "/todos/", "POST", {"title": title}, {"X-API-KEY": key})
        yield Demo(url, key, title)


class PageLog:
    """What a page did besides rendering: console errors and requests to other hosts."""

    def __init__(self, origin: str):
        self.origin = origin
        self.errors: list[str] = []
        self.offsite: list[str] = []
        self.requests: list[str] = []

    def is_offsite(self, url: str) -> bool:
        parts = urlsplit(url)
        return parts.scheme not in ("data", "blob") and (
            f"{parts.scheme}://{parts.netloc}" != self.origin
        )

    def on_request(self, request) -> None:
        self.requests.append(request.url)
        if self.is_offsite(request.url):
            self.offsite.append(request.url)

    def on_console(self, message) -> None:
        if message.type == "error":
            self.errors.append(message.text)

    def on_page_error(self, error) -> None:
        self.errors.append(str(error))


@pytest.fixture
def context(chromium, demo):
    """A fresh browser profile per test: no cookies, no stored authorization."""
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    yield context
    context.close()


@pytest.fixture
def page_log(demo) -> PageLog:
    return PageLog(demo.url)


@pytest.fixture
def page(context, page_log):
    # Anything bound elsewhere is recorded, then refused, so the test stays offline.
    context.route(page_log.is_offsite, lambda route: route.abort())
    context.on("request", page_log.on_request)
    page = context.new_page()
    page.on("console", page_log.on_console)
    page.on("pageerror", page_log.on_page_error)
    yield page
    assert page_log.offsite == [], "the page sent requests to other hosts"
