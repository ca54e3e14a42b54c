"""Two drill reports side by side: did the last change make failover faster?"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from zonegate.chaos.report import DrillReport, fmt_budget, fmt_ms, fmt_ratio, fmt_seconds


@dataclass(frozen=True)
class Row:
    metric: str
    a: str
    b: str
    delta: str
    verdict: str  # "better", "worse", "same", ""


Getter = Callable[[DrillReport], float | int | None]


@dataclass(frozen=True)
class MetricDef:
    name: str
    get: Getter
    fmt: Callable[[Any], str]
    lower_is_better: bool | None


METRICS = (
    MetricDef("time_to_detect_s", lambda r: r.metrics.time_to_detect_s, fmt_seconds, True),
    MetricDef("time_to_failover_s", lambda r: r.metrics.time_to_failover_s, fmt_seconds, True),
    MetricDef("time_to_recover_s", lambda r: r.metrics.time_to_recover_s, fmt_seconds, True),
    MetricDef("requests_total", lambda r: r.metrics.requests_total, str, None),
    MetricDef("requests_failed", lambda r: r.metrics.requests_failed, str, True),
    MetricDef("error_rate_during", lambda r: r.metrics.error_rate_during, fmt_ratio, True),
    MetricDef("p99_during_ms", lambda r: r.metrics.p99_during_ms, fmt_ms, True),
    MetricDef("error_budget_consumed", lambda r: r.metrics.error_budget_consumed, fmt_budget, True),
    MetricDef("leader_changes", lambda r: r.metrics.leader_changes, str, None),
    MetricDef("guard_trips", lambda r: len(r.guard_trips), str, True),
    MetricDef("rollbacks_done", lambda r: r.rollbacks_done, str, None),
)


def _delta(a: float | None, b: float | None, fmt: Callable[[Any], str]) -> str:
    if a is None or b is None:
        return ""
    diff = b - a
    if fmt is fmt_ratio:
        return f"{diff * 100:+.3f} pp"
    if fmt is fmt_budget:
        return f"{diff * 100:+.3g} pp"
    if fmt is fmt_seconds:
        return f"{diff:+.3f} s"
    if fmt is fmt_ms:
        return f"{diff:+.1f} ms"
    return f"{diff:+g}"


def _verdict(a: float | None, b: float | None, lower_better: bool | None) -> str:
    if lower_better is None or a is None or b is None:
        return ""
    tolerance = max(abs(a), abs(b)) * 0.02 + 1e-9
    if abs(b - a) <= tolerance:
        return "same"
    return "better" if (b < a) == lower_better else "worse"


def compare(a: DrillReport, b: DrillReport) -> list[Row]:
    """Rows for every headline metric; ``verdict`` says whether B improved on A."""
    rows = [
        Row("drill", a.drill, b.drill, "", ""),
        Row("outcome", a.outcome, b.outcome, "", ""),
    ]
    for metric in METRICS:
        va, vb = metric.get(a), metric.get(b)
        fa = None if va is None else float(va)
        fb = None if vb is None else float(vb)
        rows.append(
            Row(
                metric.name,
                "n/a" if va is None else metric.fmt(va),
                "n/a" if vb is None else metric.fmt(vb),
                _delta(fa, fb, metric.fmt),
                _verdict(fa, fb, metric.lower_is_better),
            )
        )
    return rows


def hypothesis_rows(a: DrillReport, b: DrillReport) -> list[Row]:
    def met(report: DrillReport, when: str) -> str:
        h = report.hypothesis_before if when == "before" else report.hypothesis_after
        return "not checked" if h is None else ("met" if h.met else "not met")

    return [
        Row(f"hypothesis {when}", met(a, when), met(b, when), "", "")
        for when in ("before", "after")
    ]
