"""The API's specs, as served: Swagger 2.0 at `swagger.json`, OpenAPI 3.1 at
`openapi.json`; and their validation."""

from flask import current_app, has_request_context
from flask_restx import Api
from openapi_spec_validator import OpenAPIV2SpecValidator, OpenAPIV31SpecValidator

from api.rest.openapi31 import openapi_document

# The versions `manage.py openapi --openapi` writes: each one's name and validator.
FORMATS = {
    "2.0": ("Swagger 2.0", OpenAPIV2SpecValidator),
    "3.1": ("OpenAPI 3.1", OpenAPIV31SpecValidator),
}


def swagger_spec(api: Api) -> dict:
    """The spec of `api`; needs an application context, not a request."""
    if has_request_context():
        return api.__schema__
    # The spec builds URLs (basePath), which needs a request to build them against.
    with current_app.test_request_context():
        return api.__schema__


def openapi31_spec(api: Api, base_url: str) -> dict:
    """The OpenAPI 3.1 document of `api`, its server at `base_url` (the root the API is
    served under); needs an application context. ValueError if it cannot be written."""
    return openapi_document(swagger_spec(api), base_url)


def spec_errors(spec: dict, version: str = "2.0") -> list[str]:
    """Why `spec` is not a valid document of `version` (a key of FORMATS), one line per
    problem; [] if it is."""
    _, validator = FORMATS[version]
    problems = []
    for error in validator(spec).iter_errors():
        where = " > ".join(str(part) for part in getattr(error, "absolute_path", ()))
        problems.append(f"{where or '(top level)'}: {error.message}")
    return problems
