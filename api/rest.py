"""The `/api/v1` blueprint and the Flask-RESTX `Api` object that hosts the namespaces."""

from flask import Blueprint
from flask_restx import Api
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import TooManyRequests
from werkzeug.utils import cached_property

from api.auth import REALM, authorizations
from api.conditional import tag_response
from api.docs import render_swagger_ui
from api.errors import DATABASE_UNAVAILABLE, error_model
from api.representation import JSON, output_json
from api.requests import check_body, refuse_nul
from api.spec import Spec
from namespaces.auth import ns as auth_ns
from namespaces.bucketlist import ns as bucketlist_ns
from namespaces.todos import ns as todos_ns

URL_PREFIX = "/api/v1"


class RestApi(Api):
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
        with self._schema_lock:
            if not self._schema:
                self._schema = Spec(self).as_dict()
        return self._schema


blueprint = Blueprint("api", __name__, url_prefix=URL_PREFIX)
blueprint.before_request(check_body)
blueprint.before_request(refuse_nul)
blueprint.after_request(tag_response)

api = RestApi(
    blueprint,
    version="1.0",
    title="Todos and bucket lists API",
    description=(
        "Keep todos and bucket lists. Authenticate with an API key (`X-API-KEY`) or a "
        "bearer token from `POST /auth/login`. Every response honours the `X-Fields` mask."
    ),
    doc="/",
    authorizations=authorizations,
    validate=True,
)
api.representations[JSON] = output_json
api.models[error_model.name] = error_model


@api.documentation
def swagger_ui():
    return render_swagger_ui(api)


@api.errorhandler(OperationalError)
def database_unavailable(error):
    """The database is unavailable; try again after Retry-After seconds."""
    return {"message": DATABASE_UNAVAILABLE}, 503, {"Retry-After": "5"}


# Flask-Limiter's RateLimitExceeded (a route's own limit) and RateLimiter.count_request's.
@api.errorhandler(TooManyRequests)
def rate_limited(error):
    """Too many requests; try again after Retry-After seconds."""
    return {"message": f"Too many requests: the limit is {error.description}."}, 429


api.add_namespace(auth_ns)
api.add_namespace(todos_ns)
api.add_namespace(bucketlist_ns)
