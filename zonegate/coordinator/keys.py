"""The etcd key layout, in one place.

Everything of a cluster lives under ``/zonegate/<cluster>/``::

    config                                  current cluster config (JSON envelope)
    config-history/<version:012d>           last N applied configs (same envelope)
    nodes/<zone>/<node-id>                  node registration, bound to a lease
    services/<svc>/<zone>/<id>              backend registration, bound to a lease
    leader/<lease-id:016x>                  election keys (etcd election recipe)
    summary                                 cluster summary, written by the leader
    ratelimit/<limit>/<window>/<node-id>    per-node counters, leased (window start, epoch ms)
    events/<ts>                             drill/chaos annotations for the dashboard

Path segments never contain ``/``; :func:`segment` checks that.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

ROOT = "/zonegate"
HISTORY_DIGITS = 12
_SEGMENT = re.compile(r"^[A-Za-z0-9._:@-]{1,128}$")


def segment(value: str, what: str = "name") -> str:
    """Return ``value`` if it is usable as one key segment, else raise ValueError."""
    if not _SEGMENT.match(value):
        raise ValueError(
            f"invalid {what} {value!r}: use 1-128 characters from letters, digits and ._:@-"
        )
    return value


@dataclass(frozen=True)
class Keys:
    """Key names of one cluster."""

    cluster: str = "zonegate"

    def __post_init__(self) -> None:
        segment(self.cluster, "cluster name")

    @property
    def root(self) -> str:
        return f"{ROOT}/{self.cluster}/"

    # --- config -------------------------------------------------------------
    @property
    def config(self) -> str:
        return f"{self.root}config"

    @property
    def config_history_prefix(self) -> str:
        return f"{self.root}config-history/"

    def config_history(self, version: int) -> str:
        return f"{self.config_history_prefix}{version:0{HISTORY_DIGITS}d}"

    # --- registration ---------------------------------------------------------
    @property
    def nodes_prefix(self) -> str:
        return f"{self.root}nodes/"

    def node(self, zone: str, node_id: str) -> str:
        return f"{self.nodes_prefix}{segment(zone, 'zone')}/{segment(node_id, 'node id')}"

    @property
    def services_prefix(self) -> str:
        return f"{self.root}services/"

    def service_prefix(self, service: str) -> str:
        return f"{self.services_prefix}{segment(service, 'service')}/"

    def service(self, service: str, zone: str, instance_id: str) -> str:
        return (
            f"{self.service_prefix(service)}{segment(zone, 'zone')}/"
            f"{segment(instance_id, 'instance id')}"
        )

    # --- leadership -----------------------------------------------------------
    @property
    def leader_prefix(self) -> str:
        return f"{self.root}leader/"

    def leader_candidate(self, lease_id: int) -> str:
        return f"{self.leader_prefix}{lease_id:016x}"

    @property
    def summary(self) -> str:
        return f"{self.root}summary"

    # --- shared rate-limit state -----------------------------------------------
    @property
    def ratelimit_prefix(self) -> str:
        return f"{self.root}ratelimit/"

    def ratelimit_window_prefix(self, limit: str, window: int) -> str:
        return f"{self.ratelimit_prefix}{segment(limit, 'limit')}/{window}/"

    def ratelimit(self, limit: str, window: int, node_id: str) -> str:
        return f"{self.ratelimit_window_prefix(limit, window)}{segment(node_id, 'node id')}"

    # --- annotations ------------------------------------------------------------
    @property
    def events_prefix(self) -> str:
        return f"{self.root}events/"

    def event(self, timestamp_ms: int) -> str:
        return f"{self.events_prefix}{timestamp_ms:015d}"

    # --- parsing ----------------------------------------------------------------
    def relative(self, key: str, prefix: str) -> list[str]:
        """Segments of ``key`` after ``prefix`` (``[]`` when it is not under it)."""
        if not key.startswith(prefix):
            return []
        return key[len(prefix) :].split("/")
