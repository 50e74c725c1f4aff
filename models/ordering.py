"""Manual order: positions that sort as text, and a new one between any two.

A position is a string of base-36 digits (`0-9a-z`, in ASCII order), compared as text
(byte order: the columns use the "C" collation on PostgreSQL). Every position starts
with a fixed-width head of `HEAD_WIDTH` digits; a row appended after the last one takes
the next head, so appending keeps positions short. A move takes a position strictly
between its new neighbours (`between`) and writes that one row, whatever the list's
length; each move into the same gap makes the new position about one digit longer per
five moves. No position ever ends in `0`, so there is always room before and after it.
"""

DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"
BASE = len(DIGITS)
HEAD_WIDTH = 12
FIRST = "0" * (HEAD_WIDTH - 1) + "1"
# A position column holds this many characters: some 1,000 moves into one gap.
MAX_LENGTH = 255


def _value(digit: str) -> int:
    return DIGITS.index(digit)


def after_last(last: str | None) -> str:
    """The position of a row appended after `last` (None: the list is empty)."""
    if last is None:
        return FIRST
    head = int(last[:HEAD_WIDTH].ljust(HEAD_WIDTH, "0"), BASE) + 1
    digits = []
    for _ in range(HEAD_WIDTH):
        head, digit = divmod(head, BASE)
        digits.append(DIGITS[digit])
    if head:
        raise OverflowError("No position follows the last one.")
    return "".join(reversed(digits)).rstrip("0") or FIRST


def between(before: str | None, after: str | None) -> str:
    """A position that sorts strictly after `before` and before `after` (None: the list's
    start, or its end). `before` must sort before `after`."""
    if after is None:
        return after_last(before)
    low, high, digits = before or "", after, []
    for index in range(MAX_LENGTH):
        a = _value(low[index]) if index < len(low) else 0
        b = _value(high[index]) if high is not None and index < len(high) else BASE
        if b - a > 1:
            digits.append(DIGITS[(a + b) // 2])
            return "".join(digits)
        digits.append(DIGITS[a])
        if b - a == 1:
            # This digit already keeps the result below `high`.
            high = None
    raise OverflowError("No room left between these positions.")
