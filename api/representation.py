"""JSON bodies for every response, encoded with orjson."""

import orjson
from flask import make_response


def output_json(data, code, headers=None):
    body = orjson.dumps(data, option=orjson.OPT_APPEND_NEWLINE) if data is not None else b""
    response = make_response(body, code)
    response.mimetype = "application/json"
    if headers:
        response.headers.extend(headers)
    return response
