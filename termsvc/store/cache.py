"""Per-process caches of what requests derive from the store, keyed by the store generation.

Each cache holds entries of one generation only: the first request that reads a newer generation empties it,
so nothing read before the last load or resource write is served after it, in this process or any other
over the same store (termsvc.store.generation). Connections holding a request's inline resources have no
generation and bypass every cache. Entries are shared by the threads of one process: the values stored must
not be changed by their readers (immutable rows, bytes, or dicts the callers only read)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, Generic, TypeVar

from sqlalchemy import Connection

from termsvc.store import generation
from termsvc.store.generation import Generation

V = TypeVar("V")

# every cache made, so that operators can see how each does (termsvc.api.metrics reads the counters)
CACHES: list[GenerationCache[Any]] = []


class GenerationCache(Generic[V]):
    """A least-recently-used map bounded by entries and by a weight (e.g. codes of an expansion)."""

    def __init__(self, name: str, max_entries: int, max_weight: int | None = None) -> None:
        self.name = name
        self.max_entries = max_entries
        self.max_weight = max_weight if max_weight is not None else max_entries
        self._generation = Generation("", -1)
        self._entries: OrderedDict[Hashable, tuple[V, int]] = OrderedDict()
        self._weight = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0
        CACHES.append(self)

    def get(self, gen: Generation, key: Hashable) -> V | None:
        with self._lock:
            if gen != self._generation:
                self._renew(gen)
                self.misses += 1
                return None
            found = self._entries.get(key)
            if found is None:
                self.misses += 1
                return None
            self.hits += 1
            self._entries.move_to_end(key)
            return found[0]

    def put(self, gen: Generation, key: Hashable, value: V, weight: int = 1) -> None:
        if weight > self.max_weight:
            return
        with self._lock:
            if gen != self._generation and not self._renew(gen):
                return  # built at an older generation than the cache already serves
            old = self._entries.pop(key, None)
            if old is not None:
                self._weight -= old[1]
            self._entries[key] = (value, weight)
            self._weight += weight
            while len(self._entries) > self.max_entries or self._weight > self.max_weight:
                _, (_, dropped) = self._entries.popitem(last=False)
                self._weight -= dropped

    def _renew(self, gen: Generation) -> bool:
        """Serve `gen` from now on (emptied) unless it is older than the one served, of the same store."""
        if gen.store == self._generation.store and gen.number < self._generation.number:
            return False
        self._generation = gen
        self._entries.clear()
        self._weight = 0
        return True

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._weight = 0
            self._generation = Generation("", -1)


def cached(cache: GenerationCache[V], conn: Connection, key: Hashable, build: Callable[[], V],
           weight: Callable[[V], int] = lambda _: 1) -> V:
    """The entry for `key` at the connection's generation, built (and kept) on a miss."""
    gen = generation.current(conn)
    if gen is None:
        return build()
    found = cache.get(gen, key)
    if found is not None:
        return found
    value = build()
    cache.put(gen, key, value, weight(value))
    return value
