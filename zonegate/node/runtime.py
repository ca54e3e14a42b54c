"""A running gateway node: the snapshot, the proxy and the listener, and their lifecycle."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from ssl import SSLContext

from zonegate import conventions as cv
from zonegate.config.model import ClusterConfig
from zonegate.node.filters.base import Filter
from zonegate.node.observer import RequestObserver
from zonegate.node.proxy import Proxy
from zonegate.node.server import NodeServer
from zonegate.node.snapshot import RouteFilterBuilder, Snapshot, build_snapshot, retired_clusters
from zonegate.node.upstream.cluster import ClusterEvents, UpstreamCluster

log = logging.getLogger("zonegate.node")


class GatewayNode:
    """One node. ``apply_config`` swaps snapshots; ``drain`` ends it without failing requests."""

    def __init__(
        self,
        config: ClusterConfig,
        *,
        node_id: str,
        zone: str,
        revision: int = 0,
        observer: RequestObserver | None = None,
        events: ClusterEvents | None = None,
        route_filters: RouteFilterBuilder | None = None,
        entry_filters: Sequence[Filter] = (),
    ) -> None:
        self.node_id = node_id
        self.zone = zone
        self.events = events
        self.route_filters = route_filters
        self.entry_filters = tuple(entry_filters)
        self.observer = observer or RequestObserver()
        self.identity_headers = (
            b"%b: %b\r\n" % (cv.HEADER_ZONE.encode(), zone.encode()),
            b"%b: %b\r\n" % (cv.HEADER_NODE.encode(), node_id.encode()),
        )
        self.snapshot = self._build(config, revision, None)
        self.proxy = Proxy(self.snapshot, self.observer, identity_headers=self.identity_headers)
        self.server: NodeServer | None = None
        self.address: tuple[str, int] | None = None
        self.draining = False
        self._sweeper: asyncio.Task[None] | None = None
        self._retire_task: asyncio.Task[None] | None = None

    def _build(self, config: ClusterConfig, revision: int, previous: Snapshot | None) -> Snapshot:
        return build_snapshot(
            config,
            revision,
            self.zone,
            previous=previous,
            events=self.events,
            route_filters=self.route_filters,
            entry_filters=self.entry_filters,
        )

    @property
    def config(self) -> ClusterConfig:
        return self.snapshot.config

    @property
    def revision(self) -> int:
        return self.snapshot.revision

    async def start(
        self,
        host: str | None = None,
        port: int | None = None,
        *,
        reuse_port: bool = False,
        ssl: SSLContext | None = None,
    ) -> tuple[str, int]:
        listener = self.config.node.listener
        self.server = NodeServer(
            self.proxy.handle,
            listener.limits,
            scheme="https" if ssl is not None else "http",
            identity_headers=self.identity_headers,
        )
        for cluster in self.snapshot.clusters.values():
            cluster.start()
        self.address = await self.server.listen(
            host if host is not None else listener.host,
            port if port is not None else listener.port,
            reuse_port=reuse_port,
            ssl=ssl,
        )
        self._sweeper = asyncio.create_task(self._sweep_pools(), name="pool-sweeper")
        return self.address

    def apply_config(self, config: ClusterConfig, revision: int) -> None:
        """Swap in a new snapshot atomically; in-flight requests keep the old one."""
        old = self.snapshot
        new = self._build(config, revision, old)
        for cluster in new.clusters.values():
            cluster.start()
        self.snapshot = new
        self.proxy.snapshot = new
        retired = retired_clusters(old, new)
        if retired:
            self._retire_task = asyncio.create_task(self._retire(retired), name="retire-clusters")
        log.info("config_applied", extra={"revision": revision})

    async def _retire(self, clusters: list[UpstreamCluster]) -> None:
        """Stop clusters a new config dropped, once requests that use them are done."""
        longest = max((r.timeout_s for r in self.config.routes), default=30.0)
        await asyncio.sleep(longest)
        for cluster in clusters:
            await cluster.stop()

    async def _sweep_pools(self) -> None:
        """Once a second: return ejected hosts whose time is up, close idle connections."""
        while True:
            await asyncio.sleep(1.0)
            for cluster in self.snapshot.clusters.values():
                cluster.pool.sweep()
                if cluster.outlier is not None:
                    cluster.outlier.sweep()

    async def drain(self, grace_s: float, timeout_s: float = 30.0) -> bool:
        """Stop taking new connections after ``grace_s``; wait for in-flight requests."""
        self.draining = True
        assert self.server is not None
        await asyncio.sleep(grace_s)
        self.server.draining = True
        self.server.stop_accepting()
        return await self.server.wait_idle(timeout_s)

    async def stop(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            try:
                await self._sweeper
            except asyncio.CancelledError:
                pass
        if self.server is not None:
            await self.server.close()
        for cluster in self.snapshot.clusters.values():
            await cluster.stop()
