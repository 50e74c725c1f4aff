"""The API's Swagger 2.0 spec, as served at `swagger.json`, and its validation."""

from flask import current_app, has_request_context
from flask_restx import Api
from openapi_spec_validator import OpenAPIV2SpecValidator


def swagger_spec(api: Api) -> dict:
    """The spec of `api`; needs an application context, not a request."""
    if has_request_context():
        return api.__schema__
    # The spec builds URLs (basePath), which needs a request to build them against.
    with current_app.test_request_context():
        return api.__schema__


def spec_errors(spec: dict) -> list[str]:
    """Why `spec` is not a valid Swagger 2.0 document, one line per problem; [] if it is."""
    problems = []
    for error in OpenAPIV2SpecValidator(spec).iter_errors():
        where = " > ".join(str(part) for part in getattr(error, "absolute_path", ()))
        problems.append(f"{where or '(top level)'}: {error.message}")
    return problems
