"""Bounded state: the LRU, and 1M distinct rate-limit keys staying under a memory bound."""

from __future__ import annotations

import gc
import sys
import tracemalloc

from zonegate.node.policy.decision import LimitSpec
from zonegate.node.policy.limiter import LocalLimiterRegistry, LocalRateLimiter
from zonegate.node.policy.lru import BoundedLRU

MAX_KEYS = 100_000
DISTINCT_KEYS = 1_000_000
BYTES_PER_KEY_BOUND = 480
"""Stated bound: 480 B per tracked key, i.e. 48 MB for the default ``max_keys`` of
100 000 however many distinct keys pass (measured: ~365 B token bucket, ~300 B
sliding window, of which ~150 B is the OrderedDict's table under churn)."""


def test_lru_evicts_least_recently_used() -> None:
    lru: BoundedLRU[str, int] = BoundedLRU(2)
    lru.put("a", 1)
    lru.put("b", 2)
    assert lru.get("a") == 1  # a is now the most recent
    lru.put("c", 3)
    assert "b" not in lru and lru.get("a") == 1 and lru.get("c") == 3
    assert lru.evictions == 1 and len(lru) == 2
    lru.put("a", 10)
    assert lru.get("a") == 10 and len(lru) == 2


def test_zero_size_keeps_nothing() -> None:
    lru: BoundedLRU[str, int] = BoundedLRU(0)
    lru.put("a", 1)
    assert lru.get("a") is None and len(lru) == 0


def _ip(i: int) -> str:
    return f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}"


def _steady_state_bytes(
    algorithm: str, distinct: int, max_keys: int
) -> tuple[int, LocalRateLimiter]:
    """Memory held once ``distinct`` keys went through a limiter of ``max_keys``.

    The first keys run untraced (tracing 1M iterations takes half a minute); the last
    ``max_keys`` + 10 % run under tracemalloc. Keys are distinct, so each of those
    evicts an older entry: every entry still held at the end, key and state included,
    was allocated while tracing. The hash table was sized before, so its size
    (sys.getsizeof) is added.
    """
    now = [0.0]
    spec = LimitSpec("per-ip", algorithm, 10, 1.0, 10, max_keys)  # type: ignore[arg-type]
    rl = LocalRateLimiter(spec, lambda: now[0])
    traced_from = distinct - max_keys - max_keys // 10
    for i in range(traced_from):
        now[0] = i * 1e-6
        rl.hit(_ip(i))
    gc.collect()
    tracemalloc.start()
    try:
        for i in range(traced_from, distinct):
            now[0] = i * 1e-6
            rl.hit(_ip(i))
        current, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    table = sys.getsizeof(rl._store._data)
    return current + table, rl


def test_million_keys_token_bucket_bounded() -> None:
    used, rl = _steady_state_bytes("token_bucket", DISTINCT_KEYS, MAX_KEYS)
    assert rl.tracked_keys == MAX_KEYS
    assert rl.evictions == DISTINCT_KEYS - MAX_KEYS
    assert used < MAX_KEYS * BYTES_PER_KEY_BOUND, f"{used / MAX_KEYS:.0f} B/key"


def test_many_keys_sliding_window_bounded() -> None:
    max_keys = 20_000
    used, rl = _steady_state_bytes("sliding_window", 300_000, max_keys)
    assert rl.tracked_keys == max_keys
    assert used < max_keys * BYTES_PER_KEY_BOUND, f"{used / max_keys:.0f} B/key"


def test_registry_reuses_limiter_while_spec_unchanged() -> None:
    registry = LocalLimiterRegistry(lambda: 0.0)
    spec = LimitSpec("l", "token_bucket", 1, 1.0, 1, 10)
    first = registry.limiter("route", spec)
    assert first.hit("k").allowed
    again = registry.limiter("route", spec)
    assert again is first and not again.hit("k").allowed  # quota kept over a rebuild
    changed = registry.limiter("route", LimitSpec("l", "token_bucket", 2, 1.0, 2, 10))
    assert changed is not first
    del first, again
    assert len(registry) == 1  # the unused limiter went away with its last user
