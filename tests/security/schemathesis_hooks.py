"""Schemathesis hooks for the fuzz run (loaded through SCHEMATHESIS_HOOKS).

The run authenticates with one API key. `DELETE /auth/keys/{id}` on that key's own id
would revoke it and turn the rest of the run into 401s, so that one call is sent to a
key id that does not exist instead.

`filter_failure` drops exactly these findings, each one a rule no Swagger 2.0 or OpenAPI
schema can state (the README lists them too):

* A 304 has no content and so no Content-Type (RFC 9110, 15.4.5), but Swagger 2.0's
  `produces` covers every response of an operation and cannot say so.
* `If-Match`: a schema can say it is an entity tag, not which tag is the current one,
  so a schema-valid but stale `If-Match` is a 412 (RFC 9110, 13.1.1); only a 412 to a
  request that sent `If-Match` is dropped from the "valid request rejected" check.
* A field mask (`X-Fields`, `?fields=`) that names a field the response model lacks is a
  400, and no schema can list every valid mask; only a 400 that says the mask is the
  problem, to a request that sent one, is dropped from the same check.
* A `cursor` is valid only as the API signed it in a `Link`; only a 400 that says the
  cursor is the problem, to a request that sent one, is dropped from the same check.
* A `since` is valid only as the API signed it in an `X-Sync-Token`, and it lists changes
  in their order, so it goes with no page, sort or filter (which no schema can say of
  two parameters); only a 400 that says the sync token or that mix is the problem, to a
  request that sent `since`, is dropped from the same check.
* An `Idempotency-Key` must not be reused with another request, which no schema can say
  of one request; only the 422 that says so is dropped from the same check.
* A move's `after` must name another row than the one moved, and no schema relates a
  body field to a path parameter; only the 400 that names `after` for it is dropped.
"""

import json
import os

import schemathesis
from schemathesis.openapi.checks import MissingContentType, RejectedPositiveData

KEPT_KEY_ID = os.environ["FUZZ_KEPT_KEY_ID"]


@schemathesis.hook
def before_call(context, case, kwargs):
    if (
        case.method.upper() == "DELETE"
        and case.path == "/auth/keys/{id}"
        and str(case.path_parameters.get("id")) == KEPT_KEY_ID
    ):
        case.path_parameters["id"] = 0


def problem(response) -> dict:
    """The problem details of an error response ({} for anything else)."""
    try:
        body = json.loads(response.content)
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def cannot_be_stated(case, response) -> bool:
    """A schema-valid request the API refuses for a rule no schema can state (above)."""
    headers, query = case.headers or {}, case.query or {}
    detail = str(problem(response).get("detail", ""))
    errors = problem(response).get("errors") or {}
    if response.status_code == 412:
        return "If-Match" in headers
    if response.status_code == 422:
        return "Idempotency-Key" in headers and "already used" in detail
    if response.status_code != 400:
        return False
    if (headers.get("X-Fields") or query.get("fields")) and "field mask" in detail:
        return True
    if query.get("cursor") and "cursor" in detail:
        return True
    if "since" in query and ("sync token" in detail or "cannot be combined" in detail):
        return True
    return case.path.endswith("/move") and "itself" in str(errors.get("after", ""))


@schemathesis.hook
def filter_failure(context, failure, case, response):
    if response.status_code == 304 and isinstance(failure, MissingContentType):
        return False
    return not (isinstance(failure, RejectedPositiveData) and cannot_be_stated(case, response))
