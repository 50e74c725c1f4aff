"""The Swagger spec, completed with what shared mechanisms do.

Flask-RESTX documents what each resource declares. Some answers come from mechanisms
every operation goes through instead (the body checks of `api.plumbing.hooks`, the field
masks of `api.rest.masks`, the scopes of API keys), so they are added here, once, to each
operation they apply to.

A field mask can leave any field out of a response, so the models of masked responses
(and the models nested in them) have no required fields; input models keep theirs.
"""

from flask import current_app
from flask_restx import Swagger

from api.rest.resource import WRITES

BODY_METHODS = frozenset({"post", "put", "patch"})
SCOPE_KEY = "x-required-scope"
ERROR_SCHEMA = {"$ref": "#/definitions/Error"}

# Every operation is rate limited (api.policies.rate_limits): each answer tells where the
# caller stands, in the IETF fields (draft-ietf-httpapi-ratelimit-headers) and the older ones.
RATE_LIMIT_HEADERS = {
    "RateLimit-Policy": {
        "type": "string",
        "description": 'The quota policies, e.g. `"default";q=5000;w=3600` (requests, seconds)',
    },
    "RateLimit": {
        "type": "string",
        "description": 'The policy that counted this request: `"default";r=4999;t=3599` '
        "(requests remaining, seconds until the window resets)",
    },
    "X-RateLimit-Limit": {"type": "integer", "description": "Requests the window allows"},
    "X-RateLimit-Remaining": {"type": "integer", "description": "Requests left in the window"},
    "X-RateLimit-Reset": {
        "type": "integer",
        "description": "When the window resets, in seconds since the epoch",
    },
}
RETRY_AFTER = {"Retry-After": {"type": "integer", "description": "Seconds to wait"}}


def document(responses: dict, code: int, reason: str) -> None:
    """Add `reason` to the documented response `code`, creating it as an error if new."""
    response = responses.get(str(code))
    if response is None:
        responses[str(code)] = {"description": reason, "schema": ERROR_SCHEMA}
    elif reason.lower() not in response["description"].lower():
        response["description"] += f"; or {reason[0].lower()}{reason[1:]}"


def _references(schema) -> set[str]:
    """The names of the definitions a schema refers to directly."""
    if isinstance(schema, dict):
        found = {schema["$ref"].rsplit("/", 1)[-1]} if "$ref" in schema else set()
        return found.union(*(_references(value) for value in schema.values()))
    if isinstance(schema, list):
        return set().union(*(_references(value) for value in schema))
    return set()


class Spec(Swagger):
    def __init__(self, api):
        super().__init__(api)
        self.masked_models: set[str] = set()

    def as_dict(self):
        spec = super().as_dict()
        definitions = spec.get("definitions", {})
        # Fields that take null (a merge patch's optional ones): Swagger 2.0 says so only
        # with the `x-nullable` extension, which OpenAPI 3.1 turns into a type with null.
        for name, model in self.api.models.items():
            # Models are dicts of fields (a SchemaModel, which is not, has no fields).
            model_fields = model.items() if isinstance(model, dict) else ()
            for key, field in model_fields:
                if getattr(field, "nullable", None) and name in definitions:
                    definitions[name]["properties"][key]["x-nullable"] = True
        pending = set(self.masked_models)
        seen = set()
        while pending:
            name = pending.pop()
            seen.add(name)
            definition = definitions[name]
            definition.pop("required", None)
            pending |= _references(definition) - seen
        return spec

    def serialize_operation(self, doc, method):
        operation = super().serialize_operation(doc, method)
        responses = operation["responses"]
        parameters = operation.get("parameters", [])
        mask_header = current_app.config["RESTX_MASK_HEADER"]
        if any(p["in"] == "header" and p["name"] == mask_header for p in parameters):
            document(responses, 400, "A field mask that cannot be used")
            for code, response in responses.items():
                if code.startswith("2"):
                    self.masked_models |= _references(response.get("schema"))
        if any(p["in"] == "body" for p in parameters):
            document(responses, 400, "A body that is not valid JSON")
        if any("apikey" in requirement for requirement in operation.get("security") or []):
            # What an API key must be allowed to do (api.policies.authentication).
            writes = method.upper() in WRITES
            operation[SCOPE_KEY] = "write" if writes else "read"
            if writes:
                document(responses, 403, "An API key that may only read (scopes [read])")
        if method in BODY_METHODS:
            # A route that takes larger bodies (`body_limit`) documents its own 413.
            responses.setdefault(
                "413",
                {
                    "description": "The body is larger than MAX_CONTENT_LENGTH",
                    "schema": ERROR_SCHEMA,
                },
            )
            document(responses, 415, "The body is not JSON (Content-Type: application/json)")
        for code, response in responses.items():
            headers = response.setdefault("headers", {})
            headers.update(RATE_LIMIT_HEADERS)
            if code == "429":
                headers.update(RETRY_AFTER)
        return operation
