"""The `/api/v1` blueprint and the Flask-RESTX `Api` object that hosts the namespaces.

This is the one module of `api/` that imports the namespaces: it registers them.
"""

from flask import Blueprint, request
from flask_restx import Api
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import BadRequest, TooManyRequests
from werkzeug.utils import cached_property

from api.plumbing.bodies import JSON, PROBLEM, output_json
from api.plumbing.errors import error_body, error_model, without_values
from api.plumbing.hooks import check_body, refuse_nul
from api.policies.authentication import (
    REALM,
    authorizations,
    mark_private,
    note_key_use,
    refuse_anonymous,
)
from api.policies.conditional import tag_response
from api.rest.openapi31 import openapi_document
from api.rest.spec import Spec
from api.rest.swagger_ui import render_swagger_ui
from namespaces.archive import ns as auth_ns
from namespaces.members import ns as bucketlist_ns
from namespaces.todos import ns as todos_ns

URL_PREFIX = "/api/v1"


class RestApi(Api):
    """Flask-RESTX's `Api`, answering in JSON only and documenting with `api.rest.spec`."""

    def make_response(self, data, *args, **kwargs):
        # JSON is the one representation, and Flask-RESTX answers with its default media
        # type whatever the Accept header asks: there is nothing to negotiate.
        kwargs.pop("fallback_mediatype", None)
        return output_json(data, *args, **kwargs)

    def unauthorized(self, response):
        # Keep the challenge the authentication mechanism chose instead of Basic.
        response.headers.setdefault("WWW-Authenticate", f'Bearer realm="{REALM}"')
        return response

    @cached_property
    def __schema__(self):
        # Flask-RESTX's own answers 200 with an error in place of a spec that fails to
        # build; a failure here is a 500 like any other bug.
        return Spec(self).as_dict()


blueprint = Blueprint("api", __name__, url_prefix=URL_PREFIX)
# A malformed request is a 400 whoever sends it; then credentials, before the body: a
# stranger's request is a 401 whatever its body.
blueprint.before_request(refuse_nul)
blueprint.before_request(refuse_anonymous)
blueprint.before_request(check_body)
blueprint.after_request(tag_response)
blueprint.after_request(mark_private)
blueprint.after_request(note_key_use)

api = RestApi(
    blueprint,
    version="1.0",
    title="Todos and bucket lists API",
    description=(
        "Keep todos and bucket lists. Authenticate with an API key (`X-API-KEY`) or a "
        "bearer token from `POST /auth/login`. Every response honours the `X-Fields` mask. "
        "Every list hands an `X-Sync-Token`: pass it back as `since` for what changed since."
    ),
    doc="/",
    authorizations=authorizations,
    # Bodies are validated where a handler reads them (api.rest.resource_models.body_of).
    validate=False,
)
api.representations[JSON] = output_json
# Errors answer as problem details: the spec's `produces` lists both.
api.representations[PROBLEM] = output_json
api.models[error_model.name] = error_model


# The docs page holds a form that sends credentials: no other site may frame it.
NO_FRAMING = {"Content-Security-Policy": "frame-ancestors 'none'", "X-Frame-Options": "DENY"}


@api.documentation
def swagger_ui():
    return render_swagger_ui(api), 200, NO_FRAMING


@blueprint.route("/openapi.json")
def openapi():
    """The OpenAPI 3.1 document: swagger.json's spec in 3.1's form, served from here."""
    return output_json(openapi_document(api.__schema__, request.url_root), 200)


@api.errorhandler(OperationalError)
@api.errorhandler(StaleDataError)
def database_error(error):
    """The database is unavailable (503), or the change met a concurrent one (409)."""
    return error_body(error)


@api.errorhandler
def unexpected_error(error):
    """An unexpected error: logged, answered 500 without a traceback."""
    return error_body(error)


@api.errorhandler(BadRequest)
def bad_request(error):
    """A request the API cannot use; the reasons never repeat a submitted value whole."""
    data = getattr(error, "data", None)
    if isinstance(data, dict) and isinstance(data.get("errors"), dict):
        # Flask-RESTX answers with the exception's `data`: cleaned in place.
        data["errors"] = without_values(data["errors"], request.get_json(silent=True))
        return data, 400
    return {"message": error.description}, 400


# Flask-Limiter's RateLimitExceeded (the API-wide default limit and `password_guard`'s).
@api.errorhandler(TooManyRequests)
def rate_limited(error):
    """Too many requests; try again after Retry-After seconds."""
    return {"message": f"Too many requests: the limit is {error.description}."}, 429


api.add_namespace(auth_ns)
api.add_namespace(todos_ns)
api.add_namespace(bucketlist_ns)
