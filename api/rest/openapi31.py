"""The API's OpenAPI 3.1 document, written from its Swagger 2.0 spec.

Flask-RESTX writes Swagger 2.0 only. `openapi_document` rewrites that spec (the one
`swagger.json` serves, completed by `api.rest.spec`) as OpenAPI 3.1.0, so the two
documents tell the same: the same paths, operations, parameters, schemas, response
headers and security. Only the form changes, as 3.1 asks:

* a parameter's type goes into its `schema`; the body parameter becomes the
  `requestBody`, as `application/json`, and a PATCH body also as
  `application/merge-patch+json` (RFC 7396), which the API takes alike;
* a response's schema goes into its `content`: `application/json` for a success,
  `application/problem+json` (RFC 9457) for an error, as `output_json` answers;
* a response header's type goes into its `schema`;
* `definitions` become `components.schemas` in JSON Schema 2020-12: references point
  there, `x-nullable` becomes a `"null"` type, a boolean `exclusiveMinimum` or
  `exclusiveMaximum` becomes the bound itself, and an `example` becomes `examples`;
* a `basic` security definition becomes the `http` scheme `basic`; API keys stay;
* `basePath` becomes the absolute URL of the one server.

Swagger 2.0 features the API does not use (form and file parameters, OAuth2, a body
parameter shared by a whole path) raise ValueError rather than be written half right.
"""

import copy

from api.plumbing.bodies import JSON, PROBLEM

OPENAPI_VERSION = "3.1.0"
MERGE_PATCH = "application/merge-patch+json"
METHODS = ("get", "put", "post", "delete", "options", "head", "patch")

# What an operation keeps as it is.
OPERATION_FIELDS = (
    "tags",
    "summary",
    "description",
    "externalDocs",
    "operationId",
    "deprecated",
    "security",
)

# What a Swagger 2.0 parameter or header says of its value: in 3.1, its `schema`.
VALUE_KEYWORDS = frozenset(
    {
        "type",
        "format",
        "items",
        "default",
        "maximum",
        "exclusiveMaximum",
        "minimum",
        "exclusiveMinimum",
        "maxLength",
        "minLength",
        "pattern",
        "maxItems",
        "minItems",
        "uniqueItems",
        "enum",
        "multipleOf",
        "x-nullable",
    }
)

# How an array parameter is written (`collectionFormat`): 3.1's `style` and `explode`.
# A Swagger 2.0 array without `collectionFormat` is comma-separated.
COLLECTION_STYLES = {
    "csv": {"style": "form", "explode": False},
    "ssv": {"style": "spaceDelimited", "explode": False},
    "pipes": {"style": "pipeDelimited", "explode": False},
    "multi": {"style": "form", "explode": True},
}

# Where Swagger 2.0 keeps what a reference names, and where 3.1 does.
REFERENCE_PREFIXES = {
    "#/definitions/": "#/components/schemas/",
    "#/responses/": "#/components/responses/",
    "#/parameters/": "#/components/parameters/",
}


def openapi_document(swagger: dict, base_url: str) -> dict:
    """The OpenAPI 3.1 document of the Swagger 2.0 spec `swagger`.

    `base_url` is the root the API's blueprint is served under (scheme, host and any
    script root, e.g. `http://127.0.0.1:5000`); the one server is it plus `basePath`.
    `swagger` is not changed. Raises ValueError for what the conversion does not cover.
    """
    document = {
        "openapi": OPENAPI_VERSION,
        "info": copy.deepcopy(swagger["info"]),
        "servers": [{"url": base_url.rstrip("/") + swagger.get("basePath", "")}],
    }
    for field in ("tags", "externalDocs", "security"):
        if field in swagger:
            document[field] = copy.deepcopy(swagger[field])
    document["paths"] = {path: path_item(item) for path, item in swagger["paths"].items()}
    document["components"] = components(swagger)
    return document


def components(swagger: dict) -> dict:
    """The reusable parts: schemas, security schemes, and shared responses and parameters."""
    found = {
        "schemas": {
            name: schema(definition) for name, definition in swagger.get("definitions", {}).items()
        },
        "securitySchemes": {
            name: security_scheme(definition)
            for name, definition in swagger.get("securityDefinitions", {}).items()
        },
        "responses": {
            name: response(name, definition)
            for name, definition in swagger.get("responses", {}).items()
        },
        "parameters": {
            name: parameter(definition)
            for name, definition in swagger.get("parameters", {}).items()
        },
    }
    return {kind: parts for kind, parts in found.items() if parts}


def security_scheme(definition: dict) -> dict:
    """A 3.1 security scheme: an API key stays one, `basic` is HTTP Basic.

    Raises ValueError for OAuth2, which the API does not offer.
    """
    kind = definition["type"]
    if kind == "apiKey":
        scheme = {"type": "apiKey", "name": definition["name"], "in": definition["in"]}
    elif kind == "basic":
        scheme = {"type": "http", "scheme": "basic"}
    else:
        raise ValueError(f"security of type {kind!r} is not converted to OpenAPI 3.1")
    if "description" in definition:
        scheme["description"] = definition["description"]
    return scheme


def path_item(item: dict) -> dict:
    """A path's operations, and the parameters they share (path parameters).

    Raises ValueError for a body parameter shared by the whole path.
    """
    converted = {}
    shared = item.get("parameters", [])
    if any(p.get("in") == "body" for p in shared):
        raise ValueError("a body parameter shared by a whole path is not converted")
    if shared:
        converted["parameters"] = [parameter(p) for p in shared]
    for method in METHODS:
        if method in item:
            converted[method] = operation(method, item[method])
    return converted


def operation(method: str, swagger_operation: dict) -> dict:
    """One operation: its names, security and extensions (`x-...`) as they are, its
    parameters, its body and its responses in 3.1's form."""
    converted = {
        field: copy.deepcopy(value)
        for field, value in swagger_operation.items()
        if field in OPERATION_FIELDS or field.startswith("x-")
    }
    parameters = swagger_operation.get("parameters", [])
    others = [p for p in parameters if p.get("in") != "body"]
    if others:
        converted["parameters"] = [parameter(p) for p in others]
    bodies = [p for p in parameters if p.get("in") == "body"]
    if bodies:
        converted["requestBody"] = request_body(method, bodies[0])
    converted["responses"] = {
        code: response(code, answer) for code, answer in swagger_operation["responses"].items()
    }
    return converted


def parameter(swagger_parameter: dict) -> dict:
    """A query, path or header parameter, its value described by a `schema`.

    Raises ValueError for form and file parameters, which the API does not take.
    """
    if "$ref" in swagger_parameter:
        return {"$ref": reference(swagger_parameter["$ref"])}
    where = swagger_parameter["in"]
    if where not in ("query", "path", "header"):
        raise ValueError(f"{where!r} parameters are not converted to OpenAPI 3.1")
    converted = {
        key: copy.deepcopy(value)
        for key, value in swagger_parameter.items()
        if key not in VALUE_KEYWORDS and key != "collectionFormat"
    }
    converted["schema"] = value_schema(swagger_parameter)
    if swagger_parameter.get("type") == "array":
        converted.update(collection_style(swagger_parameter, where))
    return converted


def collection_style(swagger_parameter: dict, where: str) -> dict:
    """How an array parameter is written, as `style` and `explode`.

    A path or header array is comma-separated in both versions (3.1's default `simple`).
    Raises ValueError for tab-separated arrays, which 3.1 cannot describe.
    """
    form = swagger_parameter.get("collectionFormat", "csv")
    if where != "query":
        if form != "csv":
            raise ValueError(f"a {where} array in {form!r} form is not converted")
        return {"style": "simple", "explode": False}
    if form not in COLLECTION_STYLES:
        raise ValueError(f"arrays in {form!r} form are not converted to OpenAPI 3.1")
    return dict(COLLECTION_STYLES[form])


def value_schema(described: dict) -> dict:
    """The schema of a parameter's or header's value: its value keywords, converted."""
    return schema({key: value for key, value in described.items() if key in VALUE_KEYWORDS})


def request_body(method: str, body: dict) -> dict:
    """The body parameter as a request body, in each media type the API takes for it.

    The API takes JSON (`api.plumbing.hooks.check_body` and Flask's `get_json` accept
    `application/json` and every `application/*+json` type alike). The document names
    `application/json` for every body and, since a PATCH body is a JSON merge patch,
    `application/merge-patch+json` for a PATCH too.
    """
    media_types = [JSON, MERGE_PATCH] if method == "patch" else [JSON]
    converted = {
        "required": body.get("required", False),
        "content": {media_type: {"schema": schema(body["schema"])} for media_type in media_types},
    }
    if "description" in body:
        converted = {"description": body["description"], **converted}
    return converted


def is_error(code: str) -> bool:
    """Whether a response code is an error's, which the API answers as problem details."""
    return code.isdigit() and int(code) >= 400


def response(code: str, swagger_response: dict) -> dict:
    """A response: its body's schema under the media type `output_json` sends it in
    (problem details for an error, JSON otherwise), and its headers, each with a `schema`.

    The spec's `produces` lists both media types without saying which answers which;
    `output_json` decides by the status, and so does this.
    """
    if "$ref" in swagger_response:
        return {"$ref": reference(swagger_response["$ref"])}
    converted = {"description": swagger_response.get("description", "")}
    headers = swagger_response.get("headers", {})
    if headers:
        converted["headers"] = {name: header(described) for name, described in headers.items()}
    if "schema" in swagger_response:
        media_type = PROBLEM if is_error(code) else JSON
        content = {"schema": schema(swagger_response["schema"])}
        example = swagger_response.get("examples", {}).get(media_type)
        if example is not None:
            content["example"] = copy.deepcopy(example)
        converted["content"] = {media_type: content}
    return converted


def header(described: dict) -> dict:
    """A response header: its description, and its value as a `schema`."""
    converted = {
        key: copy.deepcopy(value)
        for key, value in described.items()
        if key not in VALUE_KEYWORDS and key != "collectionFormat"
    }
    converted["schema"] = value_schema(described)
    return converted


def reference(ref: str) -> str:
    """A Swagger 2.0 reference (`#/definitions/Todo`) as 3.1's (`#/components/schemas/Todo`).

    Raises ValueError for a reference outside the document's reusable parts.
    """
    for old, new in REFERENCE_PREFIXES.items():
        if ref.startswith(old):
            return new + ref[len(old) :]
    raise ValueError(f"the reference {ref!r} is not converted to OpenAPI 3.1")


def schema(swagger_schema):
    """A Swagger 2.0 schema (or a parameter's value keywords) in JSON Schema 2020-12.

    A new object; `additionalProperties` may be a boolean and stays one. Raises
    ValueError for `type: file`, which only form parameters use.
    """
    if isinstance(swagger_schema, bool):
        return swagger_schema
    converted = {}
    for key, value in swagger_schema.items():
        if key == "$ref":
            converted[key] = reference(value)
        elif key == "properties":
            converted[key] = {name: schema(child) for name, child in value.items()}
        elif key in ("items", "additionalProperties", "not"):
            converted[key] = schema(value)
        elif key in ("allOf", "anyOf", "oneOf"):
            converted[key] = [schema(child) for child in value]
        elif key == "example":
            converted["examples"] = [copy.deepcopy(value)]
        elif key == "discriminator":
            converted[key] = {"propertyName": value}
        elif key not in ("x-nullable", "exclusiveMinimum", "exclusiveMaximum"):
            converted[key] = copy.deepcopy(value)
    if converted.get("type") == "file":
        raise ValueError("file schemas are not converted to OpenAPI 3.1")
    exclusive_bound(swagger_schema, converted, "minimum", "exclusiveMinimum")
    exclusive_bound(swagger_schema, converted, "maximum", "exclusiveMaximum")
    if swagger_schema.get("x-nullable") is True:
        converted = nullable(converted)
    return converted


def exclusive_bound(swagger_schema: dict, converted: dict, bound: str, exclusive: str) -> None:
    """Draft 4's boolean `exclusiveMinimum` (the `minimum` is excluded) as 2020-12's
    number (`exclusiveMinimum` is the excluded bound); the same for the maximum."""
    if swagger_schema.get(exclusive) is True and bound in swagger_schema:
        converted[exclusive] = converted.pop(bound)


def nullable(converted: dict) -> dict:
    """`converted`, letting `null` through as well: one more type, or else (a reference,
    an untyped schema) one more choice."""
    kind = converted.get("type")
    if isinstance(kind, str):
        converted["type"] = [kind, "null"]
        if "enum" in converted and None not in converted["enum"]:
            converted["enum"] = [*converted["enum"], None]
        return converted
    return {"anyOf": [converted, {"type": "null"}]}
