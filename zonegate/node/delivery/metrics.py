"""Prometheus view of the shadow sender's counters (register it in the node's registry)."""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client.metrics_core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector

from zonegate import conventions as cv
from zonegate.node.delivery.mirror import ShadowSender


class MirrorCollector(Collector):
    """``zonegate_mirror_requests_total{node, zone, route, cluster, outcome}``."""

    def __init__(self, sender: ShadowSender, node: str, zone: str) -> None:
        self.sender = sender
        self.base = [node, zone]

    def collect(self) -> Iterable[Metric]:
        family = CounterMetricFamily(
            cv.MIRROR_REQUESTS_TOTAL,
            "Shadow copies of requests by route, shadow cluster and outcome.",
            labels=[
                cv.LABEL_NODE,
                cv.LABEL_ZONE,
                cv.LABEL_ROUTE,
                cv.LABEL_CLUSTER,
                cv.LABEL_OUTCOME,
            ],
        )
        for (route, cluster, outcome), value in sorted(self.sender.counts.items()):
            family.add_metric([*self.base, route, cluster, outcome], value)
        return [family]
