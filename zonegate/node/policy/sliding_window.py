"""Sliding-window counter: the previous window's count, weighted by how much of it
still overlaps the sliding window, plus the current window's count.

Windows are aligned to multiples of ``window_s`` on the clock. The estimate
assumes the previous window's requests were spread evenly; it never lets more
than ``requests`` through within one aligned window, and at most ``2 x requests``
in any stretch of ``window_s`` (in practice far fewer).
"""

from __future__ import annotations

import math

from zonegate.node.policy.decision import EPSILON, Decision
from zonegate.node.policy.lru import BoundedLRU

WindowState = list[int]
"""[window index, previous window count, current window count]"""


class SlidingWindow:
    __slots__ = ("requests", "window_s")

    def __init__(self, requests: int, window_s: float) -> None:
        if requests < 1 or window_s <= 0:
            raise ValueError("requests must be >= 1 and window_s > 0")
        self.requests = requests
        self.window_s = window_s

    def acquire(
        self, store: BoundedLRU[str, WindowState], key: str, now: float, cost: int = 1
    ) -> Decision:
        w = self.window_s
        limit = self.requests
        index = math.floor(now / w + EPSILON)
        state = store.get(key)
        if state is None:
            state = [index, 0, 0]
            store.put(key, state)
        elif state[0] != index:
            state[1] = state[2] if state[0] == index - 1 else 0
            state[2] = 0
            state[0] = index
        elapsed = max(0.0, now - index * w)
        prev = state[1]
        curr = state[2]
        estimate = prev * (1.0 - elapsed / w) + curr
        if estimate + cost <= limit + EPSILON:
            state[2] = curr = curr + cost
            remaining = math.floor(limit - estimate - cost + EPSILON)
            return Decision(True, limit, max(0, remaining), self._reset(elapsed, prev, curr), 0.0)
        retry = self._retry_after(elapsed, prev, curr, cost)
        remaining = max(0, math.floor(limit - estimate + EPSILON))
        return Decision(False, limit, remaining, self._reset(elapsed, prev, curr), retry)

    def _reset(self, elapsed: float, prev: int, curr: int) -> float:
        """Seconds until both counts have slid out of the window."""
        if curr:
            return 2 * self.window_s - elapsed
        if prev:
            return self.window_s - elapsed
        return 0.0

    def _retry_after(self, elapsed: float, prev: int, curr: int, cost: int) -> float:
        w = self.window_s
        limit = self.requests
        if cost > limit:
            return math.inf
        if curr + cost <= limit:
            # prev * (1 - t / w) + curr + cost <= limit, for t later in this window
            t = w * (1.0 - (limit - curr - cost) / prev)
            return max(0.0, t - elapsed)
        # only once this window's count is the weighted previous one
        t_next = w * (1.0 - (limit - cost) / curr)
        return (w - elapsed) + max(0.0, t_next)
