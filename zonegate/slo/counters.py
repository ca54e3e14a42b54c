"""Counter series with resets and gaps, as cumulative totals you can difference.

A Prometheus counter restarts from zero when its process restarts. A
:class:`CumulativeSeries` keeps a *reset-adjusted* running total: each new raw
sample adds ``raw - last`` when the counter grew and ``raw`` when it dropped
(a reset: the process counted ``raw`` since it restarted). The first sample
is a baseline (adds nothing), as Prometheus' ``increase`` does, unless the
series is known to start from zero. The increase over any window is then the
difference of two lookups, so every window of every SLO costs two bisections.

Gaps (missed scrapes, a node that went away and came back) need nothing
special: the increase across a gap lands on the first sample after it, and a
node that never comes back simply stops adding.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field


def adjusted_increase(last_raw: float | None, raw: float) -> float:
    """What one new raw sample adds to the reset-adjusted total."""
    if last_raw is None:
        return 0.0
    return raw - last_raw if raw >= last_raw else raw


@dataclass
class CumulativeSeries:
    """Timestamps (ascending) and reset-adjusted running totals (non-decreasing)."""

    times: list[float] = field(default_factory=list)
    values: list[float] = field(default_factory=list)
    last_raw: float | None = None

    @classmethod
    def from_raw(
        cls, samples: Iterable[tuple[float, float]], *, starts_at_zero: bool = False
    ) -> CumulativeSeries:
        series = cls(last_raw=0.0 if starts_at_zero else None)
        for t, raw in samples:
            series.append_raw(t, raw)
        return series

    @classmethod
    def from_cumulative(cls, times: Sequence[float], values: Sequence[float]) -> CumulativeSeries:
        return cls(list(times), list(values))

    def append_raw(self, t: float, raw: float) -> None:
        if self.times and t <= self.times[-1]:
            raise ValueError(f"sample at {t} is not after the last one at {self.times[-1]}")
        total = (self.values[-1] if self.values else 0.0) + adjusted_increase(self.last_raw, raw)
        self.times.append(t)
        self.values.append(total)
        self.last_raw = raw

    def value_at(self, t: float) -> float:
        """Running total at ``t``: the last sample at or before it, 0 before the first."""
        i = bisect_right(self.times, t)
        return self.values[i - 1] if i else 0.0

    def increase(self, start: float, end: float) -> float:
        """Events counted in ``(start, end]``."""
        return max(0.0, self.value_at(end) - self.value_at(start))

    @property
    def first_time(self) -> float | None:
        return self.times[0] if self.times else None


@dataclass
class SummedSeries:
    """Several series counted together (nodes, routes, status classes)."""

    parts: list[CumulativeSeries] = field(default_factory=list)

    def increase(self, start: float, end: float) -> float:
        return sum(part.increase(start, end) for part in self.parts)

    @property
    def first_time(self) -> float | None:
        firsts = [t for part in self.parts if (t := part.first_time) is not None]
        return min(firsts) if firsts else None
