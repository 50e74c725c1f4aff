"""The Swagger UI page: its options, and assets served by the app itself."""

import json
import re

import pytest


def page_options(client) -> dict:
    response = client.get("/api/v1/")
    assert response.status_code == 200
    found = re.search(
        r'<script type="application/json" id="swagger-ui-options">(.*?)</script>',
        response.get_data(as_text=True),
        re.DOTALL,
    )
    assert found, "the page carries no Swagger UI options"
    return json.loads(found.group(1))


def test_the_page_lists_operations_shows_durations_and_keeps_the_authorization(client):
    assert page_options(client) == {
        "url": "/api/v1/swagger.json",
        "dom_id": "#swagger-ui",
        "validatorUrl": None,
        "docExpansion": "list",
        "displayOperationId": False,
        "displayRequestDuration": True,
        "persistAuthorization": True,
    }


@pytest.mark.parametrize(
    "config_overrides",
    [{"SWAGGER_UI_PERSIST_AUTHORIZATION": False, "SWAGGER_UI_DOC_EXPANSION": "none"}],
)
def test_the_options_follow_the_settings(client):
    options = page_options(client)
    assert options["persistAuthorization"] is False
    assert options["docExpansion"] == "none"


def test_the_page_loads_its_assets_from_the_app(client):
    page = client.get("/api/v1/").get_data(as_text=True)
    sources = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert "/swaggerui/swagger-ui-bundle.js" in sources
    assert "/swaggerui/swagger-ui.css" in sources
    assert all(source.startswith("/") for source in sources), sources
    for source in sources:
        with client.get(source) as response:
            assert response.status_code == 200, source
