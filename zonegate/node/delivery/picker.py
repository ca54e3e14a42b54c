"""Weighted choice among a few items: smooth and exact, or sticky by hash.

:class:`SmoothWeightedPicker` runs nginx's smooth weighted round robin: over
every period of ``sum(weights) / gcd`` picks each item is chosen exactly in
proportion to its weight, and picks are spread out (95/5 sends one request in
twenty to the small one, not five in a row). For periods up to
:data:`MAX_SCHEDULE` the whole period is computed once, so a pick is one index
step (no allocation); longer periods run the algorithm live (O(items)).

:meth:`SmoothWeightedPicker.at` maps a point in [0, 1) (a hash of a client key,
:func:`sticky_point`) onto the cumulative weights: a client keeps its item
while the weights stay, and when a weight grows only the clients in the grown
part move.
"""

from __future__ import annotations

import hashlib
import math
from bisect import bisect_right
from collections.abc import Sequence
from typing import Generic, TypeVar

T = TypeVar("T")
MAX_SCHEDULE = 8192
_SCALE = 1 / 2**64


def sticky_point(key: bytes) -> float:
    """A stable point in [0, 1) for ``key`` (the same on every node and process)."""
    digest = hashlib.blake2b(key, digest_size=8).digest()
    return int.from_bytes(digest, "big") * _SCALE


def smooth_schedule(weights: Sequence[int]) -> list[int]:
    """Indices of one full period of smooth weighted round robin."""
    current = [0] * len(weights)
    total = sum(weights)
    out: list[int] = []
    for _ in range(total):
        best = 0
        for i, w in enumerate(weights):
            current[i] += w
            if current[i] > current[best]:
                best = i
        current[best] -= total
        out.append(best)
    return out


class SmoothWeightedPicker(Generic[T]):
    """Exact weighted choice; items with weight 0 are never picked."""

    __slots__ = ("_cumulative", "_current", "_index", "_items", "_schedule", "_total", "_weights")

    def __init__(self, items: Sequence[T], weights: Sequence[int]) -> None:
        if len(items) != len(weights) or not items:
            raise ValueError("one weight per item, and at least one item")
        if any(w < 0 for w in weights) or sum(weights) <= 0:
            raise ValueError("weights are >= 0 and not all 0")
        live = [(item, w) for item, w in zip(items, weights, strict=True) if w > 0]
        self._items: tuple[T, ...] = tuple(item for item, _ in live)
        divisor = math.gcd(*(w for _, w in live))
        self._weights: tuple[int, ...] = tuple(w // divisor for _, w in live)
        self._total = sum(self._weights)
        self._current = [0] * len(self._weights)
        self._index = 0
        self._schedule: tuple[T, ...] = ()
        if self._total <= MAX_SCHEDULE:
            self._schedule = tuple(self._items[i] for i in smooth_schedule(self._weights))
        cumulative = []
        running = 0
        for w in self._weights:
            running += w
            cumulative.append(running / self._total)
        self._cumulative: tuple[float, ...] = tuple(cumulative)

    @property
    def period(self) -> int:
        """Picks after which every item got exactly its share."""
        return self._total

    def next(self) -> T:
        """The next item of the smooth schedule."""
        schedule = self._schedule
        if schedule:
            i = self._index
            self._index = i + 1 if i + 1 < self._total else 0
            return schedule[i]
        current = self._current
        best = 0
        for i, w in enumerate(self._weights):
            current[i] += w
            if current[i] > current[best]:
                best = i
        current[best] -= self._total
        return self._items[best]

    def at(self, point: float) -> T:
        """The item whose share of [0, 1) holds ``point`` (sticky choice)."""
        index = bisect_right(self._cumulative, point)
        return self._items[min(index, len(self._items) - 1)]
