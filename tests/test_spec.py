"""The spec documents what the shared mechanisms do, on every operation they apply to."""

import pytest


@pytest.fixture
def spec(client) -> dict:
    return client.get("/api/v1/swagger.json").get_json()


def operations(spec):
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method != "parameters":
                yield method, path, operation


def test_bodies_document_400_413_and_415(spec):
    writes = [(m, p, op) for m, p, op in operations(spec) if m in ("post", "put", "patch")]
    assert len(writes) == 15
    for method, path, operation in writes:
        assert {"413", "415"} <= set(operation["responses"]), (method, path)
        if any(p["in"] == "body" for p in operation.get("parameters", [])):
            assert "not valid JSON" in operation["responses"]["400"]["description"]


def test_masked_operations_document_400(spec):
    for method, path, operation in operations(spec):
        if any(p["name"] == "X-Fields" for p in operation.get("parameters", [])):
            assert "field mask" in operation["responses"]["400"]["description"], (method, path)


def test_reasons_are_added_to_a_documented_400(spec):
    description = spec["paths"]["/todos/{id}"]["put"]["responses"]["400"]["description"]
    assert description.startswith("Invalid todo; or ")


def test_response_models_have_no_required_fields_since_a_mask_may_leave_any_out(spec):
    definitions = spec["definitions"]
    for name in ("Todo", "Bucket", "Item", "User", "ApiKey", "NewApiKey", "AccessToken"):
        assert "required" not in definitions[name], name
    for name, required in [
        ("TodoInput", ["title"]),
        ("BucketInput", ["name"]),
        ("ItemInput", ["name"]),
        ("Credentials", ["email", "password"]),
        ("ApiKeyInput", ["name"]),
        ("Error", ["message"]),
    ]:
        assert sorted(definitions[name]["required"]) == required, name


def test_login_body_is_optional_with_basic_credentials(spec):
    [body] = [p for p in spec["paths"]["/auth/login"]["post"]["parameters"] if p["in"] == "body"]
    assert body["required"] is False
    [body] = [p for p in spec["paths"]["/todos/"]["post"]["parameters"] if p["in"] == "body"]
    assert body["required"] is True


def test_lists_document_their_pagination_headers_and_creations_their_location(spec):
    for method, path, operation in operations(spec):
        ok = operation["responses"].get("200", {})
        if ok.get("schema", {}).get("type") == "array":
            assert {"X-Total-Count", "Link"} <= set(ok["headers"]), (method, path)
        if "201" in operation["responses"]:
            assert "Location" in operation["responses"]["201"]["headers"], (method, path)


def test_formats(spec):
    definitions = spec["definitions"]
    assert definitions["Todo"]["properties"]["uri"]["format"] == "uri"
    assert definitions["User"]["properties"]["email"]["format"] == "email"
    assert definitions["Credentials"]["properties"]["email"]["format"] == "email"
    assert definitions["Todo"]["properties"]["created_at"]["format"] == "date-time"


def test_every_answer_documents_the_rate_limit_fields(spec):
    fields = {"RateLimit-Policy", "RateLimit", "X-RateLimit-Limit", "X-RateLimit-Remaining"}
    for method, path, operation in operations(spec):
        for code, response in operation["responses"].items():
            assert fields <= set(response.get("headers", {})), (method, path, code)
        assert "Retry-After" in operation["responses"]["429"]["headers"], (method, path)
