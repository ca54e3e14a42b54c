"""Upstream cluster events (ejections, breaker, health checks) to metrics and log lines."""

from __future__ import annotations

import logging

from zonegate.node.ops.metrics import NodeMetrics
from zonegate.node.upstream.cluster import ClusterEvents
from zonegate.node.upstream.host import Host

log = logging.getLogger("zonegate.node.upstream")


class MetricsClusterEvents(ClusterEvents):
    """Feeds :class:`NodeMetrics`; ejections and breaker changes also get a log line."""

    def __init__(self, metrics: NodeMetrics) -> None:
        self.metrics = metrics

    def ejected(self, cluster: str, host: Host, reason: str) -> None:
        m = self.metrics
        m.ejections.labels(*m.base, cluster, host.address, reason).inc()
        m.host_ejected.labels(*m.base, cluster, host.address).set(1)
        log.warning(
            "upstream_host_ejected",
            extra={
                "cluster": cluster,
                "host": host.address,
                "reason": reason,
                "ejections": host.ejection_count,
            },
        )

    def returned(self, cluster: str, host: Host) -> None:
        m = self.metrics
        m.host_ejected.labels(*m.base, cluster, host.address).set(0)
        log.info("upstream_host_returned", extra={"cluster": cluster, "host": host.address})

    def breaker_state(self, cluster: str, state: str) -> None:
        self.metrics.set_breaker_state(cluster, state)
        log.warning("circuit_breaker_state", extra={"cluster": cluster, "state": state})

    def health_checked(self, cluster: str, host: Host, ok: bool) -> None:
        m = self.metrics
        result = "success" if ok else "failure"
        m.health_checks.labels(*m.base, cluster, host.address, result).inc()
        m.host_healthy.labels(*m.base, cluster, host.address).set(1 if host.health_ok else 0)
