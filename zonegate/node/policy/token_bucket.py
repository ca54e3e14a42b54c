"""Token bucket in its GCRA form: one float per key (the theoretical arrival time).

``requests`` tokens per ``per_s`` refill continuously into a bucket of ``burst``
tokens. Instead of a token count and a timestamp the state is the time at which
the bucket would be full again (``tat``); a request costing ``n`` tokens is
allowed when ``tat + n * interval - burst * interval <= now``. Same decisions as
a token bucket, half the memory, no refill loop.
"""

from __future__ import annotations

import math

from zonegate.node.policy.decision import EPSILON, Decision
from zonegate.node.policy.lru import BoundedLRU


class TokenBucket:
    """The algorithm; per-key state lives in the store the caller passes."""

    __slots__ = ("burst", "interval", "tau")

    def __init__(self, requests: int, per_s: float, burst: int | None = None) -> None:
        if requests < 1 or per_s <= 0:
            raise ValueError("requests must be >= 1 and per_s > 0")
        self.interval = per_s / requests
        self.burst = burst if burst is not None else requests
        if self.burst < 1:
            raise ValueError("burst must be >= 1")
        self.tau = self.interval * self.burst

    def acquire(
        self, store: BoundedLRU[str, float], key: str, now: float, cost: int = 1
    ) -> Decision:
        interval = self.interval
        tau = self.tau
        tat = store.get(key)
        if tat is None or tat < now:
            tat = now
        new_tat = tat + interval * cost
        allow_at = new_tat - tau
        if allow_at <= now + EPSILON:
            store.put(key, new_tat)
            remaining = math.floor((tau - (new_tat - now)) / interval + EPSILON)
            return Decision(True, self.burst, max(0, remaining), new_tat - now, 0.0)
        remaining = max(0, math.floor((tau - (tat - now)) / interval + EPSILON))
        if cost > self.burst:
            return Decision(False, self.burst, remaining, tat - now, math.inf)
        return Decision(False, self.burst, remaining, tat - now, allow_at - now)
