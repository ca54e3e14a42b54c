"""The GLB's view of every gateway node: per zone, with active and passive health."""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from zonegate.config.glb import GlbHealthCheck
from zonegate.config.upstream import HealthCheck
from zonegate.glb.zone_choice import ZoneSelector
from zonegate.node.upstream.balancer import LeastRequest
from zonegate.node.upstream.health import HealthChecker
from zonegate.node.upstream.host import Host

log = logging.getLogger("zonegate.glb")


@dataclass(frozen=True)
class NodeEntry:
    node_id: str
    zone: str
    address: str
    admin: str


def _split(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host.strip("[]"), int(port)


class Membership:
    """Nodes by zone; health changes feed the zone selector."""

    def __init__(
        self,
        selector: ZoneSelector,
        health: GlbHealthCheck,
        *,
        rng: random.Random | None = None,
        on_health: Callable[[NodeEntry, bool], None] | None = None,
    ) -> None:
        self.selector = selector
        self.rng = rng or random.Random()
        self.balancer = LeastRequest(self.rng)
        self.entries: dict[str, NodeEntry] = {}
        self.hosts: dict[str, Host] = {}
        self.by_zone: dict[str, list[Host]] = {}
        self.entry_of: dict[int, NodeEntry] = {}
        self._admin_of: dict[int, tuple[str, int]] = {}
        self.on_health = on_health
        self.checker = HealthChecker(
            HealthCheck(
                path=health.path,
                interval_s=health.interval_s,
                fast_interval_s=health.fast_interval_s,
                timeout_s=health.timeout_s,
                healthy_threshold=health.rise,
                unhealthy_threshold=health.fall,
                jitter=health.jitter,
            ),
            self._health_result,
            rng=self.rng,
            address_of=lambda host: self._admin_of[id(host)],
        )

    def set_nodes(self, entries: Iterable[NodeEntry], zones: Iterable[str] = ()) -> None:
        """Replace the node set; nodes that stay keep their health state."""
        new: dict[str, NodeEntry] = {e.node_id: e for e in entries}
        for node_id, entry in new.items():
            old = self.entries.get(node_id)
            if old is not None and old == entry:
                continue
            host = Host.parse(entry.address, entry.zone, 1)
            self.hosts[node_id] = host
            self.entry_of[id(host)] = entry
            self._admin_of[id(host)] = _split(entry.admin)
        for node_id in list(self.hosts):
            if node_id not in new:
                host = self.hosts.pop(node_id)
                self.entry_of.pop(id(host), None)
                self._admin_of.pop(id(host), None)
        self.entries = new
        self.by_zone = {zone: [] for zone in zones}
        for node_id, host in self.hosts.items():
            self.by_zone.setdefault(new[node_id].zone, []).append(host)
        self.checker.set_hosts(list(self.hosts.values()))
        self._publish_all()

    def available(self, zone: str) -> list[Host]:
        return [h for h in self.by_zone.get(zone, ()) if h.health_ok]

    def pick(self, zone: str, exclude: list[Host]) -> Host | None:
        hosts = self.available(zone)
        candidates = [h for h in hosts if h not in exclude]
        if not candidates:
            return None
        return self.balancer.pick(candidates, None, ())

    def pick_any(self, zone: str, exclude: list[Host]) -> Host | None:
        """Panic (fail open): any node of the zone, healthy or not."""
        candidates = [h for h in self.by_zone.get(zone, ()) if h not in exclude]
        return self.rng.choice(candidates) if candidates else None

    def mark_down(self, host: Host, reason: str) -> None:
        """Passive detection: one failed request takes the node out at once."""
        if not host.health_ok:
            return
        self.checker.mark_down(host)
        entry = self.entry_of.get(id(host))
        log.warning(
            "glb_node_marked_down",
            extra={"node": entry.node_id if entry else host.address, "reason": reason},
        )
        self._publish(host.zone)
        if entry is not None and self.on_health is not None:
            self.on_health(entry, False)

    def _health_result(self, host: Host, ok: bool, changed: bool) -> None:
        if changed:
            self._publish(host.zone)
            entry = self.entry_of.get(id(host))
            if entry is not None and self.on_health is not None:
                self.on_health(entry, host.health_ok)

    def _publish(self, zone: str) -> None:
        hosts = self.by_zone.get(zone, [])
        self.selector.update(zone, sum(1 for h in hosts if h.health_ok), len(hosts))

    def _publish_all(self) -> None:
        for zone in self.by_zone:
            self._publish(zone)

    async def stop(self) -> None:
        await self.checker.stop()
