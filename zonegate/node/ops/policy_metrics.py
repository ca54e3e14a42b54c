"""Prometheus counters for the policy filters (a :class:`PolicyObserver`).

Pass it as ``PolicyDeps(observer=PolicyMetrics(node_metrics))``: auth failures,
rate-limit decisions and composition calls land in the node's registry, with
cells cached per label tuple so a decision costs one dict lookup and one add.
"""

from __future__ import annotations

from zonegate import conventions as cv
from zonegate.node.ops.cells import CounterCell, CounterFamily, HistogramFamily
from zonegate.node.ops.metrics import NodeMetrics


class PolicyMetrics:
    """Implements ``zonegate.node.filters.policy_deps.PolicyObserver``."""

    def __init__(self, metrics: NodeMetrics) -> None:
        base = (cv.LABEL_NODE, cv.LABEL_ZONE)
        self.base = metrics.base
        self.auth = CounterFamily(
            cv.AUTH_FAILURES_TOTAL,
            "Requests refused by authentication, by route, method and reason.",
            (*base, cv.LABEL_ROUTE, "method", cv.LABEL_REASON),
        )
        self.decisions = CounterFamily(
            cv.RATE_LIMIT_DECISIONS_TOTAL,
            "Rate-limit decisions by route, limit and decision.",
            (*base, cv.LABEL_ROUTE, cv.LABEL_LIMIT, cv.LABEL_DECISION),
        )
        self.calls = CounterFamily(
            cv.COMPOSITION_CALLS_TOTAL,
            "Composition (fan-out) calls by route, call and outcome.",
            (*base, cv.LABEL_ROUTE, cv.LABEL_CALL, cv.LABEL_OUTCOME),
        )
        self.call_duration = HistogramFamily(
            cv.COMPOSITION_CALL_DURATION,
            "Time of one composition call.",
            (*base, cv.LABEL_ROUTE, cv.LABEL_CALL),
            cv.DURATION_BUCKETS,
        )
        self._cells: dict[tuple[str, ...], CounterCell] = {}
        metrics.add_families(self.auth, self.decisions, self.calls, self.call_duration)

    def _cell(self, family: CounterFamily, *labels: str) -> CounterCell:
        key = (family.name, *labels)
        cell = self._cells.get(key)
        if cell is None:
            cell = self._cells[key] = family.cell(*self.base, *labels)
        return cell

    def auth_failed(self, route: str, method: str, reason: str) -> None:
        self._cell(self.auth, route, method, reason).value += 1

    def rate_limit_decision(self, route: str, limit: str, decision: str) -> None:
        self._cell(self.decisions, route, limit, decision).value += 1

    def composition_call(self, route: str, call: str, outcome: str, seconds: float) -> None:
        self._cell(self.calls, route, call, outcome).value += 1
        self.call_duration.cell(*self.base, route, call).observe(seconds)
