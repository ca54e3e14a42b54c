"""A node's link to etcd: registration, config from etcd, endpoints from discovery.

- The node registers ``nodes/<zone>/<id>`` (address, admin address, zone,
  config revision) on a lease, re-registers when the lease is lost, and
  republishes its config revision after each change.
- It follows the config key: each revision that validates is applied with
  :meth:`GatewayNode.apply_config`; a bad one is refused and the last good
  config stays (:class:`~zonegate.coordinator.fragment_watcher.MergedConfigWatcher`).
- Clusters with ``service:`` take their endpoints from the service's
  registrations. Static ``endpoints`` of such a cluster are a fallback, used
  until discovery has read the service and whenever it lists no instance.
- Nothing here blocks the data plane: the node starts from its local file when
  etcd is down and keeps serving its last good config and endpoints while etcd
  is unreachable (fail-static); readiness never depends on etcd.
- Draining revokes the lease first (:meth:`before_drain`), so discovery drops
  the node at once.
- The node campaigns for leadership; the leader runs the
  :class:`~zonegate.coordinator.leader_duties.LeaderDuties` (cluster summary,
  removal of stale rate-limit windows and old annotations). Draining resigns.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from prometheus_client import CollectorRegistry
from pydantic import ValidationError

from zonegate import __version__
from zonegate.config.model import ClusterConfig
from zonegate.config.upstream import Endpoint
from zonegate.coordinator.client import EtcdClient
from zonegate.coordinator.discovery import PrefixWatcher, service_watcher
from zonegate.coordinator.election import Election
from zonegate.coordinator.fragment_watcher import MergedConfigWatcher
from zonegate.coordinator.keys import Keys
from zonegate.coordinator.leader_duties import LeaderDuties
from zonegate.coordinator.metrics import CoordinatorMetrics
from zonegate.coordinator.records import NodeInfo, ServiceEndpoint
from zonegate.coordinator.registry import DEFAULT_TTL, NodeRegistration
from zonegate.node.runtime import GatewayNode
from zonegate.node.snapshot import Snapshot

log = logging.getLogger("zonegate.node.coordination")


def endpoints_of(instances: Mapping[str, ServiceEndpoint]) -> list[Endpoint]:
    """Service registrations as cluster endpoints (sorted; bad addresses skipped)."""
    out: list[Endpoint] = []
    seen: set[str] = set()
    for name in sorted(instances):
        instance = instances[name]
        if instance.address in seen:
            continue
        try:
            weight = int(instance.metadata.get("weight", "1"))
            out.append(Endpoint(address=instance.address, zone=instance.zone, weight=weight))
        except (ValueError, ValidationError):
            log.warning(
                "service_instance_skipped",
                extra={"service": instance.service, "instance": name, "address": instance.address},
            )
            continue
        seen.add(instance.address)
    return out


class NodeCoordination:
    """Everything a node does with etcd; start it after the node listens."""

    def __init__(
        self,
        node: GatewayNode,
        endpoints: str,
        *,
        address: str,
        admin_address: str = "",
        registry: CollectorRegistry,
        lease_ttl: int = DEFAULT_TTL,
    ) -> None:
        self.node = node
        self.keys = Keys(node.config.cluster)
        self.client = EtcdClient(endpoints, metrics=CoordinatorMetrics(registry))
        info = NodeInfo(
            node_id=node.node_id,
            zone=node.zone,
            address=address,
            admin_address=admin_address,
            version=__version__,
            started_at=time.time(),
            config_revision=node.revision,
        )
        self.registration = NodeRegistration(self.client, self.keys, info, ttl=lease_ttl)
        # The platform config merged with every team's route fragments (a bad
        # fragment is dropped alone).
        self.config = MergedConfigWatcher(
            self.client,
            self.keys,
            self._apply,
            initial=node.config,
            initial_revision=node.revision,
            registry=registry,
        )
        self.election = Election(
            self.client, self.keys, f"{node.zone}/{node.node_id}", ttl=lease_ttl
        )
        self.duties = LeaderDuties(self.election)
        self.services: dict[str, PrefixWatcher[ServiceEndpoint]] = {}
        self._publishing: set[asyncio.Task[Any]] = set()

    # --- lifecycle ---------------------------------------------------------------
    async def start(self) -> None:
        self.client.start()
        self.node.snapshot_listeners.append(self._snapshot_applied)
        self._snapshot_applied(self.node.snapshot)
        self.registration.start()
        self.config.start()
        self.election.start()
        self.duties.start()
        log.info(
            "coordination_started",
            extra={"etcd": ",".join(self.client.endpoints), "cluster": self.keys.cluster},
        )

    async def before_drain(self) -> None:
        """Revoke the registration so discovery (the GLB) drops this node at once."""
        await self.registration.stop(revoke=True)
        await self.duties.stop()
        await self.election.resign()

    async def stop(self) -> None:
        if self._snapshot_applied in self.node.snapshot_listeners:
            self.node.snapshot_listeners.remove(self._snapshot_applied)
        await self.config.stop()
        for watcher in self.services.values():
            await watcher.stop()
        self.services.clear()
        for task in list(self._publishing):
            task.cancel()
        await self.registration.stop(revoke=True)
        await self.duties.stop()
        await self.election.resign()
        await self.client.close()

    # --- config -------------------------------------------------------------------
    def _apply(self, config: ClusterConfig, revision: int) -> None:
        """A validated revision from etcd (raises to have it refused)."""
        self.node.apply_config(config, revision)
        self._publish(config_revision=revision)

    def _publish(self, **changes: Any) -> None:
        task = asyncio.get_running_loop().create_task(
            self.registration.update(**changes), name="registration-update"
        )
        self._publishing.add(task)
        task.add_done_callback(self._publishing.discard)

    # --- discovery ----------------------------------------------------------------
    def _snapshot_applied(self, snapshot: Snapshot) -> None:
        """Follow the services of the clusters in ``snapshot``; give them their endpoints."""
        wanted = {c.service for c in snapshot.config.clusters if c.service}
        for service in wanted - self.services.keys():
            watcher = service_watcher(
                self.client,
                self.keys,
                service,
                self._on_service(service),
            )
            self.services[service] = watcher
            watcher.start()
        for service in self.services.keys() - wanted:
            watcher = self.services.pop(service)
            self._publishing.add(asyncio.get_running_loop().create_task(watcher.stop()))
        for service, watcher in self.services.items():
            if watcher.synced:
                self._set_endpoints(snapshot, service, watcher.current)

    def _on_service(self, service: str) -> Callable[[dict[str, ServiceEndpoint]], None]:
        def changed(instances: dict[str, ServiceEndpoint]) -> None:
            self._set_endpoints(self.node.snapshot, service, instances)

        return changed

    def _set_endpoints(
        self, snapshot: Snapshot, service: str, instances: Mapping[str, ServiceEndpoint]
    ) -> None:
        discovered = endpoints_of(instances)
        for cluster in snapshot.clusters.values():
            if cluster.cfg.service != service:
                continue
            endpoints = discovered or list(cluster.cfg.endpoints)
            if [h.address for h in cluster.hosts] == [e.address for e in endpoints] and all(
                h.zone == e.zone and h.weight == e.weight
                for h, e in zip(cluster.hosts, endpoints, strict=True)
            ):
                continue
            cluster.set_endpoints(endpoints)
            log.info(
                "cluster_endpoints_discovered",
                extra={
                    "cluster": cluster.name,
                    "service": service,
                    "endpoints": [e.address for e in endpoints],
                    "fallback": not discovered,
                },
            )

    # --- status -------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        return {
            "etcd": {
                "endpoints": self.client.endpoints,
                "reachable": self.client.reachable,
                "registered": self.registration.registered,
                "leader": self.election.is_leader,
                "config_revision": self.config.revision,
                "rejected_revision": self.config.rejected_revision or None,
                "rejected_problems": self.config.last_problems,
                "services": {
                    name: {"synced": w.synced, "instances": len(w.current)}
                    for name, w in self.services.items()
                },
            }
        }

    def config_source(self) -> str:
        revision = self.node.revision
        return "etcd" if revision and revision == self.config.revision else "file"
