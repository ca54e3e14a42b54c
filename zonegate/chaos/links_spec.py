"""``local.fault_proxies`` of a cluster file: which links ``zonegate up`` routes through the
fault proxy (kept free of cluster imports: the cluster file model imports it)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from zonegate.config.base import Port, StrictModel

LinkKind = Literal["glb", "etcd", "backends"]


def _all_links() -> list[LinkKind]:
    return ["glb", "etcd", "backends"]


class FaultProxies(StrictModel):
    """Opt-in: a ``zonegate toxiproxy`` process on the chosen links (Toxiproxy API).

    - ``glb``: GLB -> each zone's nodes (traffic and health checks); link ``glb:ZONE``.
      The GLB then uses the static node list instead of etcd discovery.
    - ``etcd``: each zone's nodes -> every etcd member; link ``etcd:ZONE``.
    - ``backends``: nodes -> each zone's demo backends; link ``backends:ZONE``. Those
      clusters then use the (proxied) static endpoints instead of service discovery.
    """

    enabled: bool = False
    links: list[LinkKind] = Field(default_factory=_all_links)
    api_port: Port = Field(default=0, description="Toxiproxy API port (0: a free one)")
