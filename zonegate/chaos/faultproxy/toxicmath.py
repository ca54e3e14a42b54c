"""The arithmetic of the toxics, without sockets or clocks of their own.

Times are seconds on whatever clock the caller passes in (``now``); random
choices come from an injected ``randrange`` so tests can pin them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

RandRange = Callable[[int], int]
"""``randrange(n)`` -> an int in ``[0, n)``, like :meth:`random.Random.randrange`."""

BYTES_PER_KB: Final = 1000  # Toxiproxy: sleep += len(bytes) * 1ms / rate
BANDWIDTH_SLICE_S: Final = 0.1  # big chunks leave in 100 ms slices, as in Toxiproxy


def latency_delay_s(latency_ms: int, jitter_ms: int, randrange: RandRange) -> float:
    """``latency +/- jitter`` in seconds, never negative (Toxiproxy: ``Int63n(2j) - j``)."""
    delay = latency_ms
    if jitter_ms > 0:
        delay += randrange(2 * jitter_ms) - jitter_ms
    return max(delay, 0) / 1000.0


def slice_offsets(
    size: int, average_size: int, size_variation: int, randrange: RandRange
) -> list[tuple[int, int]]:
    """Cut ``size`` bytes into ``(start, end)`` slices of about ``average_size +/- variation``.

    Toxiproxy's algorithm: a span within ``average + variation`` is kept whole,
    otherwise it is split near its middle (shifted by up to ``variation``) and
    both halves are cut again, so slices vary evenly with no small tail.
    Requires ``0 <= size_variation < average_size``.
    """
    if average_size < 1 or not 0 <= size_variation < average_size:
        raise ValueError("need average_size >= 1 and 0 <= size_variation < average_size")
    slices: list[tuple[int, int]] = []
    pending = [(0, size)]
    while pending:
        start, end = pending.pop()
        if (end - start) - average_size <= size_variation:
            slices.append((start, end))
            continue
        shift = randrange(2 * size_variation) - size_variation if size_variation else 0
        mid = start + (end - start) // 2 + shift
        pending.append((mid, end))  # popped after the left half: slices stay in order
        pending.append((start, mid))
    return slices


class BandwidthPacer:
    """When each byte may leave a link limited to ``rate_kb_s`` (KB = 1000 bytes).

    Bytes are sent at the end of their transmission time; idle time earns no
    credit (no bursts), as in Toxiproxy. A rate of 0 lets nothing through.
    """

    __slots__ = ("busy_until", "rate_kb_s")

    def __init__(self, rate_kb_s: int) -> None:
        self.rate_kb_s = rate_kb_s
        self.busy_until = float("-inf")

    def schedule(self, size: int, now: float) -> list[tuple[int, float]] | None:
        """``[(end_offset, release_time), ...]`` covering ``size`` bytes; None if rate is 0."""
        if self.rate_kb_s <= 0:
            return None
        bytes_per_s = self.rate_kb_s * BYTES_PER_KB
        max_slice = max(1, int(bytes_per_s * BANDWIDTH_SLICE_S))
        at = max(now, self.busy_until)
        pieces: list[tuple[int, float]] = []
        offset = 0
        while offset < size:
            step = min(max_slice, size - offset)
            offset += step
            at += step / bytes_per_s
            pieces.append((offset, at))
        self.busy_until = at
        return pieces


class LimitCounter:
    """Counts bytes through a ``limit_data`` toxic; the connection closes at the limit."""

    __slots__ = ("limit", "sent")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.sent = 0

    @property
    def exhausted(self) -> bool:
        return self.sent >= self.limit

    def admit(self, size: int) -> int:
        """How many of the next ``size`` bytes may still pass."""
        allowed = max(0, min(size, self.limit - self.sent))
        self.sent += allowed
        return allowed
