"""The TTL cache in front of store lookups on the request path (web/ttl_lookup.py)."""

from __future__ import annotations

from statpulse.web.ttl_lookup import TtlLookup


class Store:
    def __init__(self) -> None:
        self.asked: list[str] = []
        self.values: dict[str, str] = {"a": "A"}

    async def load(self, key: str) -> str | None:
        self.asked.append(key)
        return self.values.get(key)


async def test_answers_including_none_are_kept_for_the_ttl_then_asked_again() -> None:
    now = [0.0]
    store = Store()
    lookup = TtlLookup(store.load, ttl_s=5, max_entries=10, clock=lambda: now[0])
    assert await lookup.get("a") == "A"
    assert await lookup.get("nope") is None
    store.values["a"] = "B"
    now[0] = 4.9
    assert await lookup.get("a") == "A" and await lookup.get("nope") is None
    assert store.asked == ["a", "nope"]
    now[0] = 5.0
    assert await lookup.get("a") == "B"
    assert store.asked == ["a", "nope", "a"]


async def test_invalidate_and_the_bound_drop_everything() -> None:
    store = Store()
    lookup = TtlLookup(store.load, ttl_s=60, max_entries=2, clock=lambda: 0.0)
    await lookup.get("a")
    lookup.invalidate()
    await lookup.get("a")
    await lookup.get("b")
    await lookup.get("c")  # full: the cache is dropped before "c" is kept
    await lookup.get("a")
    assert store.asked == ["a", "a", "b", "c", "a"]
