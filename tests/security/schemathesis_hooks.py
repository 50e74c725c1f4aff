"""Schemathesis hooks for the fuzz run (loaded through SCHEMATHESIS_HOOKS).

The run authenticates with one API key. `DELETE /auth/keys/{id}` on that key's own id
would revoke it and turn the rest of the run into 401s, so that one call is sent to a
key id that does not exist instead.

A 304 has no content and so no Content-Type (RFC 9110, 15.4.5), but Swagger 2.0's
`produces` covers every response of an operation and cannot say so; schemathesis's
content-type check is not applied to 304s.
"""

import os

import schemathesis
from schemathesis.openapi.checks import MissingContentType

KEPT_KEY_ID = os.environ["FUZZ_KEPT_KEY_ID"]


@schemathesis.hook
def before_call(context, case, kwargs):
    if (
        case.method.upper() == "DELETE"
        and case.path == "/auth/keys/{id}"
        and str(case.path_parameters.get("id")) == KEPT_KEY_ID
    ):
        case.path_parameters["id"] = 0


@schemathesis.hook
def filter_failure(context, failure, case, response):
    return not (response.status_code == 304 and isinstance(failure, MissingContentType))
