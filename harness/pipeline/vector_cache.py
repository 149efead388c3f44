"""A bounded, thread-safe LRU cache of embedding vectors keyed by the exact text embedded.

One bench run embeds the same sentences many times: the extractive generator embeds every sentence of the
retrieved passages per question, the groundedness scorer the same passage sentences per answer, the answer
metrics each reference; passages recur across questions. The embedder keeps their vectors here, so each
distinct text is embedded once per process (a vector depends only on the model and the text, the prefix for
queries or passages included in the key)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence

import numpy as np


class VectorCache:
    """``get_or_compute(texts, compute)`` returns one row per text, computing only the texts not cached (once
    each, in one call to ``compute``). The rows of one call come from that call's lookups and computation, so
    evicting entries (at ``capacity``, least recently used first) never loses a row the caller still needs.
    ``capacity`` 0 disables the cache."""

    def __init__(self, capacity: int) -> None:
        if capacity < 0:
            raise ValueError("capacity must be >= 0")
        self.capacity = capacity
        self._rows: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._rows)

    def __iter__(self) -> Iterator[str]:
        """The cached texts, least recently used first (a snapshot)."""
        with self._lock:
            return iter(list(self._rows))

    def __contains__(self, text: object) -> bool:
        return text in self._rows

    def get_or_compute(self, texts: Sequence[str], compute: Callable[[list[str]], np.ndarray]) -> np.ndarray:
        if self.capacity == 0 or not texts:
            return compute(list(texts))
        unique = list(dict.fromkeys(texts))
        with self._lock:
            found = {t: self._rows[t] for t in unique if t in self._rows}
            for t in found:
                self._rows.move_to_end(t)
        missing = [t for t in unique if t not in found]
        if missing:
            fresh = compute(missing)
            found.update(zip(missing, fresh, strict=True))
            with self._lock:
                self._rows.update((t, found[t]) for t in missing)
                while len(self._rows) > self.capacity:
                    self._rows.popitem(last=False)
        with self._lock:
            self.hits += len(texts) - len(missing)
            self.misses += len(missing)
        return np.stack([found[t] for t in texts])


__all__ = ["VectorCache"]
