"""Exponential backoff with jitter, as a pure value object (no sleeping here)."""

from __future__ import annotations

import random
from collections.abc import Callable


class Backoff:
    """Delays ``initial, initial*factor, ...`` capped at ``maximum``, each spread by
    ``+-jitter`` (a fraction) so that many clients do not retry in lockstep."""

    def __init__(
        self,
        initial: float = 0.1,
        maximum: float = 1.0,
        *,
        factor: float = 2.0,
        jitter: float = 0.2,
        rand: Callable[[], float] = random.random,
    ) -> None:
        if not 0 < initial <= maximum:
            raise ValueError("backoff needs 0 < initial <= maximum")
        self.initial = initial
        self.maximum = maximum
        self.factor = factor
        self.jitter = jitter
        self._rand = rand
        self._next = initial

    def reset(self) -> None:
        self._next = self.initial

    def next(self) -> float:
        """The delay to wait now; the following one grows."""
        base = self._next
        self._next = min(self.maximum, self._next * self.factor)
        spread = base * self.jitter * (2 * self._rand() - 1)
        return max(0.0, base + spread)
