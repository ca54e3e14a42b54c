"""The GLB's Prometheus metrics (edge SLIs read these)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from zonegate import conventions as cv

BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


class GlbMetrics:
    def __init__(self, glb_id: str) -> None:
        self.registry = CollectorRegistry()
        self.glb_id = glb_id
        self.requests = Counter(
            cv.GLB_REQUESTS_TOTAL.removesuffix("_total"),
            "Requests answered by the GLB, by client region, serving zone and status class.",
            [cv.LABEL_REGION, cv.LABEL_ZONE, cv.LABEL_STATUS_CLASS],
            registry=self.registry,
        )
        self.duration = Histogram(
            cv.GLB_REQUEST_DURATION,
            "Time from request to the end of the response at the GLB.",
            [cv.LABEL_REGION, cv.LABEL_ZONE],
            buckets=BUCKETS,
            registry=self.registry,
        )
        self.healthy_ratio = Gauge(
            cv.GLB_ZONE_HEALTHY_RATIO,
            "Share of a zone's nodes that pass health checks.",
            [cv.LABEL_ZONE],
            registry=self.registry,
        )
        self.transitions = Counter(
            cv.GLB_FAILOVERS_TOTAL.removesuffix("_total"),
            "Zone state transitions (down/degraded = failover, restored = failback).",
            [cv.LABEL_ZONE, cv.LABEL_EVENT],
            registry=self.registry,
        )
        self.decisions = Counter(
            cv.GLB_ROUTING_DECISIONS_TOTAL.removesuffix("_total"),
            "Routing decisions by client region and chosen zone.",
            [cv.LABEL_REGION, cv.LABEL_ZONE],
            registry=self.registry,
        )
        self.retries = Counter(
            cv.GLB_RETRIES_TOTAL.removesuffix("_total"),
            "Requests retried on another node or zone.",
            registry=self.registry,
        )
        self.marked_down = Counter(
            cv.GLB_NODES_MARKED_DOWN_TOTAL.removesuffix("_total"),
            "Nodes taken out by passive detection (failed request or draining answer).",
            [cv.LABEL_ZONE],
            registry=self.registry,
        )
        self._children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}

    def observe(self, region: str, zone: str, status: int, seconds: float) -> None:
        key = (region, zone, status // 100)
        children = self._children.get(key)
        if children is None:
            children = (
                self.requests.labels(region, zone, cv.status_class(status)),
                self.duration.labels(region, zone),
            )
            self._children[key] = children
        children[0].inc()
        children[1].observe(seconds)
