"""Retry back-off: Envoy's fully jittered exponential algorithm."""

from __future__ import annotations

import random


def backoff_delay(attempt: int, base_s: float, max_s: float, rng: random.Random) -> float:
    """Seconds to wait before retry number ``attempt`` (1 = the first retry).

    Uniform in ``[0, min(base_s * 2**(attempt - 1), max_s))``, as Envoy's
    ``JitteredExponentialBackOffStrategy``: ``[0, base)``, then ``[0, 2 base)``,
    ``[0, 4 base)``... with the interval capped at ``max_s``. Full jitter keeps
    clients that failed together from retrying together.
    """
    if attempt < 1:
        raise ValueError(f"retry attempts count from 1, got {attempt}")
    # 2**62 * base is beyond any sane cap; skip the multiplication to avoid float overflow.
    interval = max_s if attempt > 62 else min(base_s * (1 << (attempt - 1)), max_s)
    return rng.random() * interval
