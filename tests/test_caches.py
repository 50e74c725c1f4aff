"""BoundedCache: built once per key, bounded, and never confused by a reused id()."""

from api.caches import BoundedCache


def test_a_value_is_built_once_per_key():
    cache, built = BoundedCache(4), []
    for _ in range(3):
        assert cache.get("k", lambda: built.append(1) or "v") == "v"
    assert built == [1]


def test_a_full_cache_starts_again():
    cache, built = BoundedCache(2), []
    for key in ("a", "b", "c", "a"):
        cache.get(key, lambda key=key: built.append(key) or key)
    assert built == ["a", "b", "c", "a"]


def test_a_value_is_only_given_for_the_object_it_was_built_for():
    cache = BoundedCache(4)
    first, second = {"x": 1}, {"x": 1}
    assert cache.get("same key", lambda: "first", pin=first) == "first"
    assert cache.get("same key", lambda: "second", pin=second) == "second"
