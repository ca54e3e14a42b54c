"""A node's Prometheus metrics, in its own registry.

Per-request metrics live in lock-free cells (:mod:`zonegate.node.ops.cells`)
that are resolved once per config snapshot: a request looks its route up in
one dict and bumps a cell picked by ``status // 100``; no label strings are
built or looked up per request. Event-driven metrics (ejections, breaker
state, health checks, config revision) use prometheus-client directly.

Every series carries the ``node`` and ``zone`` labels; ``route`` and
``cluster`` are empty for requests no route matched.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from prometheus_client import CollectorRegistry, Counter, Gauge
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from zonegate import __version__
from zonegate import conventions as cv
from zonegate.node.context import RequestContext
from zonegate.node.errors import NodeError
from zonegate.node.ops.cells import CounterCell, CounterFamily, HistogramFamily
from zonegate.node.snapshot import Snapshot
from zonegate.node.upstream.breaker import CLOSED, HALF_OPEN, OPEN

BREAKER_STATES: Final = (CLOSED, OPEN, HALF_OPEN)
_CLASSES: Final = ("other", "1xx", "2xx", "3xx", "4xx", "5xx")
_EAGER: Final = frozenset({2, 3, 4, 5})  # series that exist (at 0) before their first request


def _class_cells(family: CounterFamily, labels: tuple[str, ...]) -> list[CounterCell | None]:
    return [family.cell(*labels, name) if i in _EAGER else None for i, name in enumerate(_CLASSES)]


def _class_cell(
    cells: list[CounterCell | None], family: CounterFamily, labels: tuple[str, ...], status: int
) -> CounterCell:
    """The cell of ``status``'s class, made on first use for the rare classes."""
    index = status // 100
    if not 0 < index < 6:
        index = 0
    cell = cells[index]
    if cell is None:
        cell = cells[index] = family.cell(*labels, _CLASSES[index])
    return cell


_NODE: Final = (cv.LABEL_NODE, cv.LABEL_ZONE)


class RouteCells:
    """The per-request cells of one (route, cluster)."""

    __slots__ = ("by_class", "cluster", "duration", "family", "labels", "retries")

    def __init__(self, metrics: NodeMetrics, route: str, cluster: str) -> None:
        self.labels = labels = (*metrics.base, route, cluster)
        self.cluster = cluster
        self.family = metrics.requests
        self.by_class = _class_cells(metrics.requests, labels)
        self.duration = metrics.duration.cell(*labels)
        self.retries = metrics.retries.cell(*labels)

    def count(self, status: int) -> None:
        index = status // 100
        cell = self.by_class[index] if 0 < index < 6 else None
        if cell is None:
            cell = _class_cell(self.by_class, self.family, self.labels, status)
        cell.value += 1


class ClusterCells:
    """The per-attempt cells of one cluster."""

    __slots__ = ("by_class", "duration", "errors", "labels", "metrics")

    def __init__(self, metrics: NodeMetrics, cluster: str) -> None:
        self.metrics = metrics
        self.labels = (*metrics.base, cluster)
        self.by_class = _class_cells(metrics.attempts, self.labels)
        self.errors: dict[str, CounterCell] = {}
        self.duration = metrics.upstream_duration.cell(*self.labels)

    def count(self, status: int) -> None:
        index = status // 100
        cell = self.by_class[index] if 0 < index < 6 else None
        if cell is None:
            cell = _class_cell(self.by_class, self.metrics.attempts, self.labels, status)
        cell.value += 1

    def error(self, code: str) -> CounterCell:
        cell = self.errors.get(code)
        if cell is None:
            cell = self.errors[code] = self.metrics.attempts.cell(*self.labels, code)
        return cell


class NodeMetrics:
    """Every metric of one node; ``registry`` is what /metrics renders."""

    def __init__(self, node_id: str, zone: str, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self.base = (node_id, zone)
        route_labels = (*_NODE, cv.LABEL_ROUTE, cv.LABEL_CLUSTER)
        cluster_labels = (*_NODE, cv.LABEL_CLUSTER)
        self.requests = CounterFamily(
            cv.NODE_REQUESTS_TOTAL,
            "Requests answered by the node, by route, cluster and status class.",
            (*route_labels, cv.LABEL_STATUS_CLASS),
        )
        self.duration = HistogramFamily(
            cv.NODE_REQUEST_DURATION,
            "Time from the request head to the end of the response, at the node.",
            route_labels,
            cv.DURATION_BUCKETS,
        )
        self.retries = CounterFamily(
            cv.UPSTREAM_RETRIES_TOTAL, "Upstream attempts retried.", route_labels
        )
        self.attempts = CounterFamily(
            cv.UPSTREAM_ATTEMPTS_TOTAL,
            "Upstream attempts by outcome: the status class, or the local error code.",
            (*cluster_labels, cv.LABEL_OUTCOME),
        )
        self.upstream_duration = HistogramFamily(
            cv.UPSTREAM_REQUEST_DURATION,
            "Time of one upstream attempt until its response head (or failure).",
            cluster_labels,
            cv.DURATION_BUCKETS,
        )
        self.active = CounterCell()
        self._families: tuple[CounterFamily | HistogramFamily, ...] = (
            self.requests,
            self.duration,
            self.retries,
            self.attempts,
            self.upstream_duration,
        )
        self.registry.register(_CellCollector(self))
        self._routes: dict[str, RouteCells] = {}
        self._others: dict[tuple[str, str], RouteCells] = {}
        self._clusters: dict[str, ClusterCells] = {}
        self._build_event_metrics()

    def _build_event_metrics(self) -> None:
        reg = self.registry
        host_labels = (*_NODE, cv.LABEL_CLUSTER, cv.LABEL_HOST)
        self.ejections = Counter(
            cv.UPSTREAM_EJECTIONS_TOTAL.removesuffix("_total"),
            "Hosts ejected by outlier detection.",
            (*host_labels, cv.LABEL_REASON),
            registry=reg,
        )
        self.host_ejected = Gauge(
            cv.UPSTREAM_HOST_EJECTED,
            "1 while outlier detection ejects the host.",
            host_labels,
            registry=reg,
        )
        self.breaker_state = Gauge(
            cv.UPSTREAM_BREAKER_STATE,
            "Error-rate circuit breaker: 1 for the cluster's current state.",
            (*_NODE, cv.LABEL_CLUSTER, cv.LABEL_STATE),
            registry=reg,
        )
        self.health_checks = Counter(
            cv.UPSTREAM_HEALTH_CHECKS_TOTAL.removesuffix("_total"),
            "Active health-check probes by result (success or failure).",
            (*host_labels, cv.LABEL_RESULT),
            registry=reg,
        )
        self.host_healthy = Gauge(
            cv.UPSTREAM_HOST_HEALTHY,
            "1 while active health checks pass.",
            host_labels,
            registry=reg,
        )
        self.config_revision = Gauge(
            cv.CONFIG_REVISION, "Revision of the config the node serves.", _NODE, registry=reg
        )
        self.draining = Gauge(cv.NODE_DRAINING, "1 while the node drains.", _NODE, registry=reg)
        info = Gauge(
            cv.NODE_INFO, "Always 1; the node's version.", (*_NODE, cv.LABEL_VERSION), registry=reg
        )
        info.labels(*self.base, __version__).set(1)
        self.draining.labels(*self.base).set(0)

    # --- per snapshot --------------------------------------------------------
    def snapshot_applied(self, snapshot: Snapshot) -> None:
        """Resolve the cells of every route and cluster of a new snapshot."""
        routes = {}
        for route in snapshot.config.routes:
            cells = self._routes.get(route.name)
            if cells is None or cells.cluster != (route.upstream or ""):
                cells = self._route_cells(route.name, route.upstream or "")
            routes[route.name] = cells
        self._routes = routes
        for name, cluster in snapshot.clusters.items():
            if name not in self._clusters:
                self._clusters[name] = ClusterCells(self, name)
            if cluster.breaker is not None:
                self.set_breaker_state(name, cluster.breaker.state)
        self.config_revision.labels(*self.base).set(snapshot.revision)

    def _route_cells(self, route: str, cluster: str) -> RouteCells:
        key = (route, cluster)
        cells = self._others.get(key)
        if cells is None:
            cells = self._others[key] = RouteCells(self, route, cluster)
        return cells

    # --- hot path ------------------------------------------------------------
    def request_finished(self, ctx: RequestContext, duration: float) -> None:
        route = ctx.route
        cells = self._routes.get(route)
        if cells is None or cells.cluster != ctx.cluster:  # a route of an older snapshot
            cells = self._route_cells(route, ctx.cluster)
        cells.count(ctx.status)
        cells.duration.observe(duration)

    def retried(self, ctx: RequestContext) -> None:
        cells = self._routes.get(ctx.route)
        if cells is None or cells.cluster != ctx.cluster:
            cells = self._route_cells(ctx.route, ctx.cluster)
        cells.retries.value += 1

    def attempt_finished(self, ctx: RequestContext, status: int, error: Exception | None) -> None:
        cells = self._clusters.get(ctx.cluster)
        if cells is None:
            cells = self._clusters[ctx.cluster] = ClusterCells(self, ctx.cluster)
        if error is None:
            cells.count(status)
        else:
            code = error.code if isinstance(error, NodeError) else type(error).__name__
            cells.error(code).value += 1
        cells.duration.observe(ctx.upstream_duration)

    # --- events ------------------------------------------------------------------
    def set_breaker_state(self, cluster: str, state: str) -> None:
        for name in BREAKER_STATES:
            self.breaker_state.labels(*self.base, cluster, name).set(1 if name == state else 0)

    def set_draining(self, draining: bool) -> None:
        self.draining.labels(*self.base).set(1 if draining else 0)

    def collect_cells(self) -> Iterable[Metric]:
        for family in self._families:
            yield family.family()
        active = GaugeMetricFamily(
            cv.NODE_ACTIVE_REQUESTS, "Requests in flight at the node.", labels=list(_NODE)
        )
        active.add_metric(list(self.base), self.active.value)
        yield active


class _CellCollector(Collector):
    def __init__(self, metrics: NodeMetrics) -> None:
        self.metrics = metrics

    def collect(self) -> Iterable[Metric]:
        return self.metrics.collect_cells()
