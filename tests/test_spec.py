"""The spec documents what the shared mechanisms do, on every operation they apply to."""

import re

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
    assert len(writes) == 19
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
    # HTTP Basic or the body: the credentials scheme is optional ({}).
    assert spec["paths"]["/auth/login"]["post"]["security"] == [{"basic": []}, {}]


def test_the_email_a_registration_takes_is_stated_as_the_api_checks_it(spec):
    rule = spec["definitions"]["Credentials"]["properties"]["email"]["pattern"]
    for address in ("ada@example.com", "Ada+x@Lab.Example.ORG", "a@test.com"):
        assert re.search(rule, address), address
    for address in ("a@b", "a@b.c1", "ada@lab.test", "ada@x.LocalHost", "a@b.onion"):
        assert not re.search(rule, address), address


def test_logout_takes_only_the_bearer_token_it_revokes(spec):
    assert spec["paths"]["/auth/logout"]["post"]["security"] == [{"bearer": []}]


def test_query_arguments_state_the_rules_the_api_checks(spec):
    params = {p["name"]: p for p in spec["paths"]["/todos/"]["get"]["parameters"]}
    assert params["due_before"]["format"] == params["due_after"]["format"] == "date-time"
    assert params["overdue"]["enum"] == ["true"]
    tag = params["tag"]["items"]
    assert (tag["minLength"], tag["maxLength"]) == (1, 50)
    assert re.search(tag["pattern"], " home") and re.search(tag["pattern"], "\u00e9")
    for blank in ("", "   ", "\t\n", "\x1f", "\u00a0", "\u3000", "\ufeff"):
        assert not re.search(tag["pattern"], blank), repr(blank)
    key = spec["paths"]["/todos/"]["post"]["parameters"]
    [idempotency] = [p for p in key if p["name"] == "Idempotency-Key"]
    assert (idempotency["minLength"], idempotency["maxLength"]) == (1, 255)
    assert re.fullmatch(idempotency["pattern"], "retry-1") and not re.search(
        idempotency["pattern"], "with space"
    )


def test_lists_document_their_pagination_headers_and_creations_their_location(spec):
    for method, path, operation in operations(spec):
        ok = operation["responses"].get("200", {})
        # A list's members are one short array (at most 100), never pages.
        if ok.get("schema", {}).get("type") == "array" and not path.endswith("/members/"):
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
