"""Which series an SLI counts: the one place that maps a spec to metric names and labels.

The embedded store, the Prometheus data source and the rule generator all
select events through :func:`event_query`, so they count the same things.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client.utils import floatToGoString

from zonegate import conventions as cv
from zonegate.slo.spec import SLI, AvailabilitySLI, LatencySLI

LABEL_LE = "le"


@dataclass(frozen=True)
class Selector:
    """A metric name with exact-match labels and an optional allowed-values set for one label."""

    metric: str
    labels: tuple[tuple[str, str], ...] = ()
    one_of: tuple[str, tuple[str, ...]] | None = None

    def matches(self, metric: str, labels: dict[str, str]) -> bool:
        if metric != self.metric:
            return False
        if any(labels.get(k) != v for k, v in self.labels):
            return False
        if self.one_of is not None:
            name, allowed = self.one_of
            return labels.get(name) in allowed
        return True

    def promql(self) -> str:
        """``name{a="b",status_class=~"5xx|4xx"}``."""
        parts = [f'{k}="{_escape(v)}"' for k, v in self.labels]
        if self.one_of is not None:
            name, allowed = self.one_of
            parts.append(f'{name}=~"{"|".join(_regex_escape(v) for v in allowed)}"')
        return f"{self.metric}{{{','.join(parts)}}}" if parts else self.metric


@dataclass(frozen=True)
class EventQuery:
    """``total`` events and either the ``bad`` or the ``good`` ones."""

    total: Selector
    bad: Selector | None = None
    good: Selector | None = None
    group_labels: tuple[str, ...] = field(default=(cv.LABEL_ZONE,))

    def selectors(self) -> tuple[Selector, ...]:
        return tuple(s for s in (self.total, self.bad, self.good) if s is not None)


def le_label(threshold: float) -> str:
    """The ``le`` label value prometheus_client writes for a bucket bound (``1.0``, ``0.3``)."""
    text: str = floatToGoString(threshold)  # type: ignore[no-untyped-call]
    return text


def event_query(sli: SLI) -> EventQuery:
    scope = tuple(sorted(sli.scope_labels().items()))
    if isinstance(sli, AvailabilitySLI):
        metric = cv.GLB_REQUESTS_TOTAL if sli.source == "edge" else cv.NODE_REQUESTS_TOTAL
        bad = Selector(metric, scope, (cv.LABEL_STATUS_CLASS, tuple(sli.bad_status_classes)))
        return EventQuery(total=Selector(metric, scope), bad=bad)
    assert isinstance(sli, LatencySLI)
    histogram = cv.GLB_REQUEST_DURATION if sli.source == "edge" else cv.NODE_REQUEST_DURATION
    good_labels = tuple(sorted((*scope, (LABEL_LE, le_label(sli.threshold)))))
    return EventQuery(
        total=Selector(f"{histogram}_count", scope),
        good=Selector(f"{histogram}_bucket", good_labels),
    )


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _regex_escape(value: str) -> str:
    out = "".join("\\\\" + c if c in r".^$*+?()[]{}|\\" else c for c in value)
    return out.replace('"', '\\"')
