"""Fixed-width time bins of the request log: count, failures, p99, traffic per zone and node."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from zonegate.chaos.records import RequestRecord, percentile

_EPSILON = 1e-9


@dataclass
class Bin:
    """Requests that *started* in ``[start, start + width)``."""

    start: float
    width: float
    total: int = 0
    failed: int = 0
    latencies: list[float] = field(default_factory=list, repr=False)
    zones: Counter[str] = field(default_factory=Counter)
    nodes: Counter[str] = field(default_factory=Counter)

    @property
    def end(self) -> float:
        return self.start + self.width

    @property
    def succeeded(self) -> int:
        return self.total - self.failed

    @property
    def success_rate(self) -> float | None:
        return self.succeeded / self.total if self.total else None

    @property
    def p99_ms(self) -> float | None:
        return percentile(self.latencies, 99.0)

    def share(self, zone: str) -> float:
        served = sum(self.zones.values())
        return self.zones[zone] / served if served else 0.0

    def to_json(self) -> dict[str, object]:
        return {
            "start": round(self.start, 3),
            "total": self.total,
            "failed": self.failed,
            "p99_ms": None if self.p99_ms is None else round(self.p99_ms, 3),
            "zones": dict(self.zones),
        }


def bin_index(t: float, t0: float, width: float) -> int:
    return math.floor((t - t0) / width + _EPSILON)


def make_bins(records: Sequence[RequestRecord], t0: float, t1: float, width: float) -> list[Bin]:
    """Bins covering ``[t0, t1)``; records outside are ignored.

    A request counts toward the zone that served it only when it succeeded
    (a 502 from the GLB carries no zone; a 503 from a draining node does not
    count as that zone serving the traffic).
    """
    if width <= 0:
        raise ValueError("bin width must be positive")
    count = max(0, math.ceil((t1 - t0) / width - _EPSILON))
    bins = [Bin(t0 + i * width, width) for i in range(count)]
    for record in records:
        index = bin_index(record.t, t0, width)
        if not 0 <= index < count:
            continue
        b = bins[index]
        b.total += 1
        b.latencies.append(record.latency_ms)
        if record.failed:
            b.failed += 1
        else:
            b.zones[record.zone or "?"] += 1
            if record.node:
                b.nodes[record.node] += 1
    return bins


def zone_shares(bins: Sequence[Bin]) -> dict[str, float]:
    """Each zone's share of the successful requests of ``bins`` together."""
    totals: Counter[str] = Counter()
    for b in bins:
        totals.update(b.zones)
    served = sum(totals.values())
    return {zone: n / served for zone, n in sorted(totals.items())} if served else {}
