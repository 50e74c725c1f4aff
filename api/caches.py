"""Values worked out once and then kept: compiled marshallers, masked models, loader
options, statements, URL templates.

Each is small and is asked for on every request, so it is built on first use and kept in
a `BoundedCache`, which forgets everything when it is full rather than grow with keys a
client chooses (masks, hosts).
"""

from collections.abc import Callable, Hashable
from typing import TypeVar

V = TypeVar("V")


class BoundedCache:
    """Values built once per key, at most `limit` of them: when full, it starts again.

    A key may stand for an object by its `id()`. Pass that object as `pin`: it is kept
    with the value, and a value is only returned for the very object it was built for.
    """

    def __init__(self, limit: int):
        self.limit = limit
        self._entries: dict[Hashable, tuple[object, object]] = {}

    def get(self, key: Hashable, build: Callable[[], V], pin: object = None) -> V:
        entry = self._entries.get(key)
        if entry is None or entry[0] is not pin:
            if len(self._entries) >= self.limit:
                self._entries.clear()
            entry = self._entries[key] = (pin, build())
        return entry[1]
