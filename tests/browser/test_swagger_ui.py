"""Swagger UI at /api/v1/, used in headless Chromium as a client developer would."""

import json
import os
from pathlib import Path

import pytest

from tests.browser.conftest import playwright_api

expect = playwright_api().expect

pytestmark = pytest.mark.browser

SECTIONS = ("auth", "todos", "bucketlist")
MASK = "{id,title}"


def open_docs(page, demo):
    page.goto(demo.docs)
    expect(page.locator(".opblock-tag-section").first).to_be_visible()


def authorize(page, key: str):
    page.locator("button.authorize").click()
    form = page.locator(".auth-container").filter(has=page.get_by_text("apikey", exact=True))
    form.locator("input").fill(key)
    form.get_by_role("button", name="Authorize").click()
    expect(form.get_by_role("button", name="Logout")).to_be_visible()
    page.locator(".modal-ux .close-modal").click()
    expect(page.locator("button.authorize")).to_have_class("btn authorize locked")


def operation(page, method: str, path: str):
    return page.locator(f".opblock-{method}").filter(has=page.locator(f'[data-path="{path}"]'))


def try_it_out(page, method: str, path: str, headers: dict | None = None):
    """Run one operation from its panel; return the panel and the network response."""
    panel = operation(page, method, path)
    panel.locator(".opblock-summary").first.click()
    panel.locator("button.try-out__btn").click()
    for name, value in (headers or {}).items():
        panel.locator(f'tr[data-param-name="{name}"][data-param-in="header"] input').fill(value)
    with page.expect_response(lambda response: response.url.split("?")[0].endswith(path)) as info:
        panel.locator("button.execute").click()
    expect(live_status(panel)).to_be_visible()
    return panel, info.value


def live_status(panel):
    return panel.locator(".live-responses-table tr.response .response-col_status").first


def shown_status(panel) -> str:
    return live_status(panel).inner_text().strip()


def shown_body(panel):
    return json.loads(panel.locator(".live-responses-table .highlight-code pre").first.inner_text())


def save_screenshot(page, panel, path: Path):
    """The page from its top down to the response body, the auth section folded away."""
    page.locator("#operations-tag-auth").click()
    expect(page.locator(".opblock-summary-path[data-path='/auth/me']")).to_be_hidden()
    bottom = panel.locator(".live-responses-table .highlight-code").first.evaluate(
        "element => element.getBoundingClientRect().bottom + window.scrollY"
    )
    width = page.viewport_size["width"]
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(
        path=path, full_page=True, clip={"x": 0, "y": 0, "width": width, "height": bottom + 12}
    )


def test_the_page_loads_offline_with_every_section(page, page_log, demo):
    open_docs(page, demo)
    page.wait_for_load_state("networkidle")
    # Operations are listed without a click (docExpansion "list").
    expect(operation(page, "get", "/todos/")).to_be_visible()
    for name in SECTIONS:
        expect(page.locator(f"#operations-tag-{name}")).to_be_visible()
    assert page_log.errors == []
    assert page_log.offsite == []
    assert any("/swaggerui/swagger-ui-bundle.js" in url for url in page_log.requests)
    assert any(url.endswith("/api/v1/swagger.json") for url in page_log.requests)


def test_authorized_try_it_out_honours_the_field_mask(page, page_log, demo):
    open_docs(page, demo)
    authorize(page, demo.key)
    panel, response = try_it_out(page, "get", "/todos/", {"X-Fields": MASK})

    assert response.status == 200
    assert response.request.headers["x-api-key"] == demo.key
    assert response.request.headers["x-fields"] == MASK
    assert shown_status(panel) == "200"
    body = shown_body(panel)
    assert body == response.json()
    assert [todo["title"] for todo in body] == [demo.todo_title]
    assert all(set(todo) == {"id", "title"} for todo in body)
    expect(panel.get_by_text("Request duration")).to_be_visible()
    assert page_log.errors == []

    screenshot = os.environ.get("SWAGGER_SCREENSHOT")
    if screenshot:
        save_screenshot(page, panel, Path(screenshot))


def test_an_unauthenticated_try_shows_401(page, demo):
    open_docs(page, demo)
    panel, response = try_it_out(page, "get", "/todos/")
    assert response.status == 401
    assert "x-api-key" not in response.request.headers
    assert shown_status(panel) == "401"
    assert "message" in shown_body(panel)


def test_the_authorization_survives_a_reload(page, demo):
    open_docs(page, demo)
    authorize(page, demo.key)
    page.reload()
    expect(page.locator("button.authorize")).to_have_class("btn authorize locked")
    panel, response = try_it_out(page, "get", "/auth/me")
    assert response.status == 200
    assert response.request.headers["x-api-key"] == demo.key
    assert shown_body(panel)["email"] == "ada@example.com"
