"""URL converters."""

from werkzeug.routing import IntegerConverter

# Id columns are INTEGER: 64 bits on SQLite but 32 on PostgreSQL, where a larger
# value in a query is an error rather than a miss.
MAX_ID = 2**31 - 1


class IdConverter(IntegerConverter):
    """`<int:...>` limited to what a database id column holds: larger ids are 404s.

    ASCII digits only: werkzeug's `\\d` also takes other scripts' digits ("١" is 1), which
    would give every resource many URLs.
    """

    regex = r"[0-9]+"

    def __init__(self, map, *args, **kwargs):
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)
