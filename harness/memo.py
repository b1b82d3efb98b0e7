"""One bounded least-recently-used memo, for the per-process caches (oracle
results per case, special-value gradings per output)."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

V = TypeVar("V")


class LRU(Generic[V]):
    """``get(key, make)``: the value kept for ``key``, else ``make()``, kept;
    beyond ``size`` entries the least recently used one goes."""

    def __init__(self, size: int):
        self.size = size
        self._d: OrderedDict[Hashable, V] = OrderedDict()

    def get(self, key: Hashable, make: Callable[[], V]) -> V:
        hit = self._d.get(key)
        if hit is not None:
            self._d.move_to_end(key)
            return hit
        hit = self._d[key] = make()
        if len(self._d) > self.size:
            self._d.popitem(last=False)
        return hit
