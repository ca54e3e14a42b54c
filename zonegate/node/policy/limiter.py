"""Rate limiters behind one seam: a local limiter, and the protocol a global one fills.

The filter asks a :class:`RateLimitBackend` per request. With no global backend
(or for ``scope: node`` limits) that is a :class:`LocalRateLimiter`: the
algorithm plus a size-bounded LRU of per-key state. The coordinator's
cluster-wide backend receives the local limiter to fall back on.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Protocol
from weakref import WeakValueDictionary

from zonegate.node.policy.decision import Clock, Decision, LimitSpec
from zonegate.node.policy.lru import BoundedLRU
from zonegate.node.policy.sliding_window import SlidingWindow, WindowState
from zonegate.node.policy.token_bucket import TokenBucket


class RateLimitBackend(Protocol):
    """Counts one request against ``key`` and decides; must be cheap and non-blocking."""

    @property
    def spec(self) -> LimitSpec: ...

    def hit(self, key: str, cost: int = 1) -> Decision: ...


GlobalBackendFactory = Callable[[str, LimitSpec, RateLimitBackend], RateLimitBackend]
"""(route name, limit, local limiter) -> a cluster-wide backend that may wrap the local one."""


class LocalRateLimiter:
    """This node's counts only; memory bounded by ``spec.max_keys`` (least recently used go)."""

    __slots__ = ("__weakref__", "_acquire", "_clock", "_store", "spec")

    def __init__(self, spec: LimitSpec, clock: Clock) -> None:
        self.spec = spec
        self._clock = clock
        if spec.algorithm == "token_bucket":
            bucket_store: BoundedLRU[str, float] = BoundedLRU(spec.max_keys)
            bucket = TokenBucket(spec.requests, spec.period_s, spec.burst)
            self._store: BoundedLRU[str, float] | BoundedLRU[str, WindowState] = bucket_store
            # partial, not a lambda: no interpreted frame between here and compiled code
            self._acquire: Callable[[str, float, int], Decision] = partial(
                bucket.acquire, bucket_store
            )
        else:
            window_store: BoundedLRU[str, WindowState] = BoundedLRU(spec.max_keys)
            window = SlidingWindow(spec.requests, spec.period_s)
            self._store = window_store
            self._acquire = partial(window.acquire, window_store)

    def hit(self, key: str, cost: int = 1) -> Decision:
        return self._acquire(key, self._clock(), cost)

    @property
    def tracked_keys(self) -> int:
        return len(self._store)

    @property
    def evictions(self) -> int:
        return self._store.evictions


class LocalLimiterRegistry:
    """Keeps limiters alive across config snapshots while their spec is unchanged.

    A new snapshot asking for the same (route, spec) gets the same limiter, so a
    config change does not hand every client a fresh quota. Limiters no snapshot
    uses any more are dropped with it (weak references).
    """

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._limiters: WeakValueDictionary[tuple[str, LimitSpec], LocalRateLimiter] = (
            WeakValueDictionary()
        )

    def limiter(self, route: str, spec: LimitSpec) -> LocalRateLimiter:
        key = (route, spec)
        limiter = self._limiters.get(key)
        if limiter is None:
            limiter = LocalRateLimiter(spec, self._clock)
            self._limiters[key] = limiter
        return limiter

    def __len__(self) -> int:
        return len(self._limiters)
