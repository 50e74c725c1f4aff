"""URL converters."""

from werkzeug.routing import IntegerConverter

# Id columns are INTEGER: 64 bits on SQLite but 32 on PostgreSQL, where a larger
# value in a query is an error rather than a miss.
MAX_ID = 2**31 - 1


def numbers_up_to(limit: int) -> str:
    """A regular expression of the decimal numbers 0 to `limit`, written without leading
    zeros: `numbers_up_to(250)` is `0|[1-9][0-9]{0,1}|[1-1][0-9]{2}|2[0-4][0-9]{1}|250`."""
    digits = str(limit)
    shorter = ["0"] + ([f"[1-9][0-9]{{0,{len(digits) - 2}}}"] if len(digits) > 1 else [])
    # As long as `limit`: its first i digits, then a smaller one, then any.
    as_long = []
    for i, digit in enumerate(digits):
        lowest = 1 if i == 0 else 0
        if int(digit) > lowest:
            rest = len(digits) - i - 1
            tail = f"[0-9]{{{rest}}}" if rest else ""
            as_long.append(f"{digits[:i]}[{lowest}-{int(digit) - 1}]{tail}")
    return "|".join([*shorter, *as_long, digits])


class IdConverter(IntegerConverter):
    """`<int:...>` limited to what a database id column holds: other ids are 404s.

    The id is checked by the route's pattern, not after it matched: werkzeug checks the
    method of a matching route before converting its values, and Flask-RESTX answers a
    405 by matching the URL again, where a converter's refusal would escape every error
    handler as a 500 (`PUT /todos/99999999999`). ASCII digits only: werkzeug's `\\d` also
    takes other scripts' digits ("١" is 1), which would give every resource many URLs;
    and no leading zeros, for the same reason.
    """

    regex = numbers_up_to(MAX_ID)

    def __init__(self, map, *args, **kwargs):
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)
