"""`GET /api/v1/openapi.json`: the OpenAPI 3.1 document tells what swagger.json tells."""

import json

import pytest
from openapi_spec_validator import OpenAPIV31SpecValidator

from api.rest.openapi31 import openapi_document, schema

API = "/api/v1"
SUCCESS_TYPE = "application/json"
ERROR_TYPE = "application/problem+json"
METHODS = ("get", "put", "post", "delete", "options", "head", "patch")


@pytest.fixture
def swagger(client) -> dict:
    return client.get(f"{API}/swagger.json").get_json()


@pytest.fixture
def document(client) -> dict:
    response = client.get(f"{API}/openapi.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    return response.get_json()


def operations(spec: dict):
    """(path, method, operation) of every operation of a Swagger 2.0 or OpenAPI 3.1 spec."""
    for path, item in spec["paths"].items():
        for method in METHODS:
            if method in item:
                yield path, method, item[method]


def test_the_document_is_valid_openapi_3_1(document):
    assert document["openapi"] == "3.1.0"
    errors = [error.message for error in OpenAPIV31SpecValidator(document).iter_errors()]
    assert errors == []


def test_it_has_the_same_paths_and_operations_as_swagger_json(swagger, document):
    def described(spec):
        return {
            (path, method): (
                operation["operationId"],
                operation.get("summary"),
                operation.get("description"),
                operation.get("tags"),
            )
            for path, method, operation in operations(spec)
        }

    assert set(document["paths"]) == set(swagger["paths"])
    assert described(document) == described(swagger)
    assert len(described(document)) >= 26
    assert document["info"] == swagger["info"]
    assert document["tags"] == swagger["tags"]


def test_the_server_is_the_absolute_base_url(document):
    assert document["servers"] == [{"url": "http://localhost/api/v1"}]


@pytest.mark.parametrize("config_overrides", [{"PUBLIC_URL": "https://todos.example.com/v"}])
def test_the_server_follows_public_url(document, config_overrides):
    assert document["servers"] == [{"url": "https://todos.example.com/v/api/v1"}]


def test_parameters_keep_their_names_places_and_types(swagger, document):
    def parameters(spec):
        found = set()
        for path, method, operation in operations(spec):
            shared = spec["paths"][path].get("parameters", [])
            for parameter in [*shared, *operation.get("parameters", [])]:
                if parameter["in"] == "body":
                    continue
                value = parameter.get("schema", parameter)
                found.add(
                    (
                        path,
                        method,
                        parameter["name"],
                        parameter["in"],
                        parameter.get("required", False),
                        value["type"],
                        json.dumps(value.get("enum")),
                        json.dumps(value.get("default")),
                    )
                )
        return found

    assert parameters(document) == parameters(swagger)
    page = next(p for p in document["paths"]["/todos/"]["get"]["parameters"] if p["name"] == "page")
    # Swagger 2.0's boolean exclusiveMinimum with minimum 0 is JSON Schema 2020-12's 0.
    assert page["schema"] == {"type": "integer", "exclusiveMinimum": 0, "default": 1}


def test_bodies_are_request_bodies_in_the_media_types_the_api_takes(swagger, document):
    bodies = 0
    for path, method, operation in operations(swagger):
        [body] = [p for p in operation.get("parameters", []) if p["in"] == "body"] or [None]
        converted = document["paths"][path][method]
        if body is None:
            assert "requestBody" not in converted, (method, path)
            continue
        bodies += 1
        request_body = converted["requestBody"]
        assert request_body["required"] is body["required"], (method, path)
        expected = ["application/json", "application/merge-patch+json"][
            : 2 if method == "patch" else 1
        ]
        assert list(request_body["content"]) == expected, (method, path)
        reference = body["schema"]["$ref"].replace("#/definitions/", "#/components/schemas/")
        for media in request_body["content"].values():
            assert media["schema"] == {"$ref": reference}, (method, path)
    assert bodies >= 12
    assert document["paths"]["/auth/login"]["post"]["requestBody"]["required"] is False


def test_a_merge_patch_body_is_taken_as_the_document_says(auth_client):
    todo = auth_client.post(f"{API}/todos/", json={"title": "Buy milk"}).get_json()
    response = auth_client.patch(
        f"{API}/todos/{todo['id']}",
        data=json.dumps({"done": True}),
        content_type="application/merge-patch+json",
    )
    assert response.status_code == 200
    assert response.get_json()["done"] is True


def test_errors_are_problem_details_and_successes_json(swagger, document):
    errors = 0
    for path, method, operation in operations(document):
        original = swagger["paths"][path][method]["responses"]
        assert set(operation["responses"]) == set(original), (method, path)
        for code, response in operation["responses"].items():
            assert response["description"] == original[code]["description"]
            if "schema" not in original[code]:
                assert "content" not in response, (method, path, code)
            elif int(code) >= 400:
                errors += 1
                # A refusal for a role names the role it needs: problem details extended.
                shared = code == "403" and path.startswith("/bucketlists/{id}")
                model = "RoleRequired" if shared else "Error"
                assert response["content"] == {
                    ERROR_TYPE: {"schema": {"$ref": f"#/components/schemas/{model}"}}
                }, (method, path, code)
            else:
                assert list(response["content"]) == [SUCCESS_TYPE], (method, path, code)
    assert errors > 100
    problem = document["components"]["schemas"]["Error"]["properties"]
    assert {"type", "title", "status", "detail", "message", "errors"} == set(problem)
    refusal = document["components"]["schemas"]["RoleRequired"]["properties"]
    assert set(refusal) == set(problem) | {"required_role", "role"}


def test_an_error_is_sent_as_the_document_says(auth_client, document):
    response = auth_client.get(f"{API}/todos/999")
    assert "404" in document["paths"]["/todos/{id}"]["get"]["responses"]
    assert response.status_code == 404
    assert response.mimetype == ERROR_TYPE


def test_response_headers_carry_schemas(swagger, document):
    for path, method, operation in operations(swagger):
        for code, response in operation["responses"].items():
            headers = document["paths"][path][method]["responses"][code].get("headers", {})
            expected = {
                name: {"type": header["type"]}
                for name, header in response.get("headers", {}).items()
            }
            assert {name: header["schema"] for name, header in headers.items()} == expected
    ok = document["paths"]["/todos/"]["get"]["responses"]["200"]["headers"]
    assert {"X-Total-Count", "Link", "RateLimit", "RateLimit-Policy"} <= set(ok)


def test_security_schemes_and_each_operations_security_match(swagger, document):
    schemes = document["components"]["securitySchemes"]
    assert {
        name: {k: v for k, v in s.items() if k != "description"} for name, s in schemes.items()
    } == {
        "apikey": {"type": "apiKey", "in": "header", "name": "X-API-KEY"},
        "bearer": {"type": "apiKey", "in": "header", "name": "Authorization"},
        "basic": {"type": "http", "scheme": "basic"},
    }
    for path, method, operation in operations(swagger):
        converted = document["paths"][path][method]
        assert converted.get("security") == operation.get("security"), (method, path)
    assert document["paths"]["/todos/"]["get"]["security"] == [{"apikey": []}, {"bearer": []}]
    assert "security" not in document["paths"]["/auth/register"]["post"]


def test_schemas_are_the_definitions_in_json_schema_2020_12(swagger, document):
    schemas = document["components"]["schemas"]
    assert list(schemas) == list(swagger["definitions"])
    text = json.dumps(document)
    assert "#/definitions/" not in text and '"example":' not in text
    todo = schemas["Todo"]["properties"]
    assert todo["id"] == {"type": "integer", "readOnly": True}
    assert todo["created_at"] == {"type": "string", "format": "date-time", "readOnly": True}
    assert todo["title"]["examples"] == ["Buy milk"]
    assert schemas["Bucket"]["properties"]["items"]["items"] == {
        "$ref": "#/components/schemas/Item"
    }
    assert schemas["TodoInput"]["required"] == ["title"]


@pytest.mark.parametrize(
    ("swagger_schema", "expected"),
    [
        (
            {"type": "string", "format": "date-time", "x-nullable": True},
            {"type": ["string", "null"], "format": "date-time"},
        ),
        (
            {"type": "integer", "enum": [1, 2], "x-nullable": True},
            {"type": ["integer", "null"], "enum": [1, 2, None]},
        ),
        ({"type": "string", "x-nullable": False}, {"type": "string"}),
        (
            {"$ref": "#/definitions/Owner", "x-nullable": True},
            {"anyOf": [{"$ref": "#/components/schemas/Owner"}, {"type": "null"}]},
        ),
        (
            {"type": "integer", "maximum": 10, "exclusiveMaximum": True},
            {"type": "integer", "exclusiveMaximum": 10},
        ),
        (
            {"type": "integer", "minimum": 1, "exclusiveMinimum": False},
            {"type": "integer", "minimum": 1},
        ),
    ],
)
def test_swagger_schemas_in_json_schema_2020_12(swagger_schema, expected):
    assert schema(swagger_schema) == expected


def minimal_swagger(**changes) -> dict:
    spec = {
        "swagger": "2.0",
        "basePath": "/api/v1",
        "info": {"title": "x", "version": "1"},
        "paths": {"/x": {"post": {"responses": {"204": {"description": "Done"}}}}},
    }
    return {**spec, **changes}


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        (
            {
                "paths": {
                    "/x": {
                        "post": {
                            "parameters": [{"name": "f", "in": "formData", "type": "string"}],
                            "responses": {"204": {"description": "Done"}},
                        }
                    }
                }
            },
            "'formData' parameters",
        ),
        (
            {"securityDefinitions": {"oauth": {"type": "oauth2", "flow": "implicit"}}},
            "security of type 'oauth2'",
        ),
        (
            {"definitions": {"X": {"$ref": "https://example.com/x.json"}}},
            "the reference 'https://example.com/x.json'",
        ),
    ],
)
def test_what_the_conversion_does_not_cover_is_refused(changes, reason):
    with pytest.raises(ValueError, match=reason):
        openapi_document(minimal_swagger(**changes), "http://localhost")
    valid = openapi_document(minimal_swagger(), "http://localhost/")
    assert valid["servers"] == [{"url": "http://localhost/api/v1"}]
