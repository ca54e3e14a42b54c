"""Everything a gateway node does with etcd, wired together.

:class:`NodeAgent` registers the node (``nodes/<zone>/<id>``), follows the
cluster config (:class:`ConfigWatcher`; the node's ``on_config`` swaps its
snapshot) and republishes the revision the node runs in its registration, so
``zonegate status`` shows convergence. Optionally it campaigns for leadership
and runs the :class:`LeaderDuties` while leading.

Nothing here blocks the data plane on etcd: ``start()`` returns at once, and
with etcd unreachable the node keeps serving its last good (or local) config.
``drain()`` marks the node draining and revokes its registration at once
(so discovery and the GLB drop it) and resigns leadership.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Sequence

from zonegate.config.model import ClusterConfig
from zonegate.coordinator.client import EtcdClient
from zonegate.coordinator.config_watcher import ConfigWatcher, OnConfig
from zonegate.coordinator.election import DEFAULT_TTL, Election
from zonegate.coordinator.keys import Keys
from zonegate.coordinator.leader_duties import Duty, LeaderDuties
from zonegate.coordinator.records import NODE_DRAINING, NodeInfo
from zonegate.coordinator.registry import NodeRegistration

log = logging.getLogger(__name__)


class NodeAgent:
    def __init__(
        self,
        client: EtcdClient,
        keys: Keys,
        info: NodeInfo,
        on_config: OnConfig,
        *,
        initial_config: ClusterConfig | None = None,
        ttl: int = DEFAULT_TTL,
        campaign: bool = True,
        duties_interval: float = 1.0,
        extra_duties: Sequence[Duty] = (),
    ) -> None:
        self.client = client
        self.keys = keys
        self._on_config = on_config
        self.registration = NodeRegistration(client, keys, info, ttl=ttl)
        self.config = ConfigWatcher(client, keys, self._apply, initial=initial_config)
        self.election: Election | None = None
        self.duties: LeaderDuties | None = None
        if campaign:
            self.election = Election(client, keys, f"{info.zone}/{info.node_id}", ttl=ttl)
            self.duties = LeaderDuties(self.election, interval=duties_interval, duties=extra_duties)

    async def _apply(self, config: ClusterConfig, revision: int) -> None:
        result = self._on_config(config, revision)
        if inspect.isawaitable(result):
            await result
        await self.registration.update(config_revision=revision)

    def start(self) -> None:
        """Start registering, watching the config and campaigning (returns at once)."""
        self.registration.start()
        self.config.start()
        if self.election is not None and self.duties is not None:
            self.election.start()
            self.duties.start()

    async def drain(self) -> None:
        """Leave the cluster now: resign, mark draining, revoke the registration."""
        if self.duties is not None:
            await self.duties.stop()
        if self.election is not None:
            await self.election.resign()
        await self.registration.update(state=NODE_DRAINING)
        await self.registration.stop(revoke=True)
        log.info("node_deregistered node=%s", self.registration.info.node_id)

    async def stop(self) -> None:
        """Drain (if not yet) and stop following the config."""
        await self.drain()
        await self.config.stop()
