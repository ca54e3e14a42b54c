"""Prometheus metrics of the coordinator.

One :class:`CoordinatorMetrics` per registry: the process-wide default comes
from :func:`default_metrics`; tests (or several nodes in one process) pass
their own ``CollectorRegistry``.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge
from prometheus_client.registry import REGISTRY

from zonegate import conventions as names


class CoordinatorMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else REGISTRY
        reg = self.registry
        self.etcd_reachable = Gauge(
            names.ETCD_REACHABLE,
            "1 when the last etcd request or probe succeeded, else 0",
            registry=reg,
        )
        self.etcd_requests = Counter(
            names.ETCD_REQUESTS_TOTAL,
            "etcd requests by operation and outcome (ok, error, unavailable)",
            [names.LABEL_OP, names.LABEL_OUTCOME],
            registry=reg,
        )
        self.endpoint_switches = Counter(
            names.ETCD_ENDPOINT_SWITCHES_TOTAL,
            "times the client moved to another etcd endpoint after a failure",
            registry=reg,
        )
        self.watch_restarts = Counter(
            names.ETCD_WATCH_RESTARTS_TOTAL,
            "watch re-creations by reason (disconnect: resumed from the last revision; "
            "compacted: everything re-read)",
            [names.LABEL_REASON],
            registry=reg,
        )
        self.leases_lost = Counter(
            names.ETCD_LEASES_LOST_TOTAL,
            "leases that expired before their keep-alive could renew them",
            registry=reg,
        )
        self.config_updates = Counter(
            names.CONFIG_UPDATES_TOTAL,
            "config revisions that validated and were handed to the node",
            registry=reg,
        )
        self.config_rejected = Counter(
            names.CONFIG_REJECTED_TOTAL,
            "config revisions from etcd refused by validation (the last good one stays)",
            registry=reg,
        )
        self.is_leader = Gauge(
            names.LEADER_IS_LEADER, "1 while this process is the cluster leader", registry=reg
        )
        self.leader_changes = Counter(
            names.LEADER_CHANGES_TOTAL, "leader changes observed by this process", registry=reg
        )
        self.fencing_token = Gauge(
            names.LEADER_FENCING_TOKEN,
            "create revision of this process's leader key while it leads, else 0",
            registry=reg,
        )
        self.fenced_writes = Counter(
            names.LEADER_FENCED_WRITES_TOTAL,
            "leader-only writes that etcd refused because leadership had moved on",
            registry=reg,
        )


_default: CoordinatorMetrics | None = None


def default_metrics() -> CoordinatorMetrics:
    """The process-wide metrics on the default Prometheus registry."""
    global _default
    if _default is None:
        _default = CoordinatorMetrics()
    return _default
