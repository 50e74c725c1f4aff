"""The Namespace every module of `namespaces/` uses.

It is Flask-RESTX's own, with a `marshal_with` that checks the field mask before the
handler runs, accepts it in the `fields` query parameter too, and documents the headers
that come with lists (pagination) and with 201s (`Location`).
"""

from functools import wraps
from http import HTTPStatus

import flask_restx
from flask import Response
from flask_restx import marshal
from flask_restx.utils import merge, unpack
from werkzeug.exceptions import BadRequest

from api.policies.pagination import PAGE_HEADERS
from api.policies.sync import SYNC_HEADER, marshal_rows
from api.rest.masks import FIELDS_PARAM, MASK_DESCRIPTION, response_fields

LOCATION_HEADER = {"Location": {"type": "string", "description": "The new resource's URL"}}


class Namespace(flask_restx.Namespace):
    def marshal_with(
        self,
        fields,
        as_list=False,
        code=HTTPStatus.OK,
        description=None,
        default_mask: str | None = None,
        must_show: tuple[str, ...] = (),
        paged: bool = True,
        **kwargs,
    ):
        """Marshal the handler's result with `fields`, masked by the request's mask or
        else by `default_mask`; a mask that cannot be used, or that leaves out a field of
        `must_show` (what the client cannot get again, such as a new secret), is a 400
        before the handler runs. A list is documented with the headers of a page, unless
        it is not `paged` (one short array).
        """

        def wrapper(func):
            @wraps(func)
            def marshalled(*args, **kw):
                shown = response_fields(fields, default_mask)
                hidden = [name for name in must_show if name not in shown]
                if hidden:
                    raise BadRequest(
                        f"The field mask must keep {', '.join(hidden)}: this response is "
                        "the only one that shows it."
                    )
                result = func(*args, **kw)
                if isinstance(result, Response):
                    return result
                data, status, headers = unpack(result)
                if as_list and SYNC_HEADER in headers:
                    # A sync's page may hold tombstones among its rows.
                    return marshal_rows(data, lambda row: marshal(row, shown)), status, headers
                return marshal(data, shown), status, headers

            documented = [fields] if as_list else fields
            headers = {**(PAGE_HEADERS if as_list and paged else {}), **kwargs.pop("headers", {})}
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
