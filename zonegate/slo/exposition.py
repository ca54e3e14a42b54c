"""A small, fast reader for the Prometheus text format, limited to wanted series.

The scraper reads a dozen targets every few seconds but needs only a few
metric families; lines of other families are skipped on their name alone,
so most of the text is never parsed.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from zonegate import conventions as cv
from zonegate.slo.queries import LABEL_LE, event_query
from zonegate.slo.spec import SLOSpec

_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')
_UNESCAPE = {"\\\\": "\\", '\\"': '"', "\\n": "\n"}
Labels = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Sample:
    metric: str
    labels: Labels
    value: float


@dataclass
class Wanted:
    """Metric names to keep and, per histogram bucket metric, the ``le`` values to keep."""

    names: set[str] = field(default_factory=set)
    buckets: dict[str, set[str]] = field(default_factory=dict)

    def created_name(self, metric: str) -> str:
        for suffix in ("_total", "_bucket", "_count"):
            if metric.endswith(suffix):
                return metric[: -len(suffix)] + "_created"
        return metric + "_created"

    def keeps(self, metric: str, labels: Labels) -> bool:
        allowed = self.buckets.get(metric)
        if allowed is None:
            return metric in self.names
        return dict(labels).get(LABEL_LE) in allowed


def wanted_for(specs: Iterable[SLOSpec]) -> Wanted:
    """Request counters and duration-histogram counts always; buckets the SLOs use."""
    wanted = Wanted(
        names={
            cv.NODE_REQUESTS_TOTAL,
            cv.GLB_REQUESTS_TOTAL,
            f"{cv.NODE_REQUEST_DURATION}_count",
            f"{cv.GLB_REQUEST_DURATION}_count",
        }
    )
    for spec in specs:
        query = event_query(spec.sli)
        if query.good is not None and query.good.metric.endswith("_bucket"):
            le = dict(query.good.labels)[LABEL_LE]
            wanted.buckets.setdefault(query.good.metric, set()).add(le)
    return wanted


def _unescape(value: str) -> str:
    if "\\" not in value:
        return value
    return re.sub(r'\\[\\"n]', lambda m: _UNESCAPE[m.group(0)], value)


def _value(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        lowered = text.lower()
        if lowered in ("+inf", "inf"):
            return math.inf
        if lowered == "-inf":
            return -math.inf
        return math.nan


def parse_exposition(
    text: str, wanted: Wanted
) -> tuple[list[Sample], dict[tuple[str, Labels], float]]:
    """Wanted samples, and the ``_created`` timestamps of their series (if exposed).

    Created timestamps are keyed by the created metric name and the series'
    labels without ``le``.
    """
    samples: list[Sample] = []
    created: dict[tuple[str, Labels], float] = {}
    created_names = {wanted.created_name(n) for n in (*wanted.names, *wanted.buckets)}
    for line in text.splitlines():
        if not line or line[0] == "#":
            continue
        brace = line.find("{")
        space = line.find(" ")
        cut = brace if 0 <= brace < space or (brace >= 0 and space < 0) else space
        name = line[:cut] if cut >= 0 else line
        is_created = name in created_names
        if not is_created and name not in wanted.names and name not in wanted.buckets:
            continue
        labels: Labels = ()
        rest = line[cut:] if cut >= 0 else ""
        if rest.startswith("{"):
            close = rest.rfind("}")
            labels = tuple(sorted((k, _unescape(v)) for k, v in _LABEL.findall(rest[1:close])))
            rest = rest[close + 1 :]
        parts = rest.split()
        if not parts:
            continue
        value = _value(parts[0])
        if is_created:
            created[(name, tuple(kv for kv in labels if kv[0] != LABEL_LE))] = value
        elif wanted.keeps(name, labels) and not math.isnan(value):
            samples.append(Sample(name, labels, value))
    return samples, created
