"""What a process keeps from one build to the next (`watch` builds the same briefing again and
again), bounded so that a long session or a large briefing does not grow without end."""

from __future__ import annotations

from typing import Any, Callable, TypeVar

V = TypeVar("V")


def keep(table: dict[Any, V], key: Any, value: V, limit: int) -> V:
    """`table[key] = value`, the table emptied first when it already holds `limit` entries; the value."""
    if len(table) >= limit:
        table.clear()
    table[key] = value
    return value


class Generations:
    """Entries kept from one render for the next: what the last render neither found nor kept
    is let go, and at most `limit` bytes (`size_of` an entry) are kept."""

    def __init__(self, limit: int, size_of: Callable[[Any, Any], int] = lambda key, value: len(value)) -> None:
        self.limit, self.size_of = limit, size_of
        self.scope: object = None  # what every entry depends on beside its key
        self.last: dict = {}
        self.now: dict = {}
        self.size = 0  # bytes in `now`

    def begin(self, scope: object = None) -> None:
        """A render starts, in `scope`: what the last one found or kept is what this one can find
        (all of it still, if the last kept nothing), and nothing kept in another scope."""
        if scope != self.scope:
            self.scope, self.last, self.now, self.size = scope, {}, {}, 0
        elif self.now:
            self.last, self.now, self.size = self.now, {}, 0

    def find(self, key: Any) -> Any:
        """The entry, or None; one from the last render is kept for the next."""
        value = self.now.get(key)
        if value is None and (value := self.last.get(key)) is not None:
            self.keep(key, value)
        return value

    def keep(self, key: Any, value: Any) -> None:
        size = self.size_of(key, value)
        if self.size + size <= self.limit:
            self.now[key] = value
            self.size += size
