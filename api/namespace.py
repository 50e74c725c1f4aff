"""The Namespace every module of `namespaces/` uses.

It is Flask-RESTX's own, with `marshal_with` that checks the field mask before the
handler runs, accepts it in the `fields` query parameter too, and documents the headers
that come with lists (pagination) and with 201s (`Location`).
"""

from functools import wraps
from http import HTTPStatus

import flask_restx
from flask import Response
from flask_restx.utils import merge, unpack

from api.marshalling import marshal
from api.masks import FIELDS_PARAM, MASK_DESCRIPTION, select_fields
from api.pagination import PAGE_HEADERS

LOCATION_HEADER = {"Location": {"type": "string", "description": "The new resource's URL"}}


class Namespace(flask_restx.Namespace):
    def marshal_with(
        self,
        fields,
        as_list=False,
        code=HTTPStatus.OK,
        description=None,
        default_mask: str | None = None,
        **kwargs,
    ):
        """Marshal with `fields`, masked by the request or else by `default_mask`."""

        def wrapper(func):
            @wraps(func)
            def marshalled(*args, **kw):
                masked = select_fields(fields, default_mask)
                response = func(*args, **kw)
                if isinstance(response, Response):
                    return response
                data, status, headers = unpack(response)
                return marshal(data, masked), status, headers

            documented = [fields] if as_list else fields
            headers = {**(PAGE_HEADERS if as_list else {}), **kwargs.pop("headers", {})}
            if int(code) == HTTPStatus.CREATED:
                headers.update(LOCATION_HEADER)
            if headers:
                kwargs["headers"] = headers
            doc = {
                "responses": {str(code): (description, documented, kwargs)},
                "__mask__": default_mask or True,
                "params": {
                    FIELDS_PARAM: {"in": "query", "type": "string", "description": MASK_DESCRIPTION}
                },
            }
            marshalled.__apidoc__ = merge(getattr(func, "__apidoc__", {}), doc)
            return marshalled

        return wrapper
