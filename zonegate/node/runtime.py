"""A running gateway node: the snapshot, the proxy and the listener, and their lifecycle."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from ssl import SSLContext

from zonegate import conventions as cv
from zonegate.config.model import ClusterConfig
from zonegate.node.attempt_hooks import AttemptHooks
from zonegate.node.filters.base import Filter
from zonegate.node.observer import RequestObserver
from zonegate.node.proxy import Proxy
from zonegate.node.server import NodeServer
from zonegate.node.snapshot import RouteFilterBuilder, Snapshot, build_snapshot, retired_clusters
from zonegate.node.upstream.cluster import ClusterEvents, UpstreamCluster

log = logging.getLogger("zonegate.node")

SnapshotListener = Callable[[Snapshot], None]
"""Called with every snapshot that becomes current (the first one at construction)."""


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
        attempt_hooks: AttemptHooks | None = None,
        snapshot_listeners: Sequence[SnapshotListener] = (),
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
        self.snapshot_listeners = list(snapshot_listeners)
        self.snapshot = self._build(config, revision, None)
        self.proxy = Proxy(self.snapshot, self.observer, identity_headers=self.identity_headers)
        self.proxy.attempt_hooks = attempt_hooks
        self.started_at = time.time()
        self.server: NodeServer | None = None
        self.address: tuple[str, int] | None = None
        self.draining = False
        self._sweeper: asyncio.Task[None] | None = None
        self._retire_tasks: set[asyncio.Task[None]] = set()
        self._retiring: list[UpstreamCluster] = []
        self._notify(self.snapshot)

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

    def _notify(self, snapshot: Snapshot) -> None:
        for listener in self.snapshot_listeners:
            try:
                listener(snapshot)
            except Exception:
                log.exception("snapshot_listener_failed", extra={"revision": snapshot.revision})

    @property
    def ready(self) -> bool:
        """Listening and not draining: what /readyz answers."""
        return self.address is not None and not self.draining

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
            fast_handler=self.proxy.try_fast,
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
        self._notify(new)
        retired = retired_clusters(old, new)
        if retired:
            self._retiring.extend(retired)
            task = asyncio.create_task(self._retire(retired), name="retire-clusters")
            self._retire_tasks.add(task)
            task.add_done_callback(self._retire_tasks.discard)
        log.info("config_applied", extra={"revision": revision})

    async def _retire(self, clusters: list[UpstreamCluster]) -> None:
        """Stop clusters a new config dropped, once requests that use them are done."""
        longest = max((r.timeout_s for r in self.config.routes), default=30.0)
        await asyncio.sleep(longest)
        for cluster in clusters:
            self._retiring.remove(cluster)
            await cluster.stop()

    async def _sweep_pools(self) -> None:
        """Once a second: return ejected hosts whose time is up, close idle connections."""
        while True:
            await asyncio.sleep(1.0)
            for cluster in self.snapshot.clusters.values():
                cluster.pool.sweep()
                if cluster.outlier is not None:
                    cluster.outlier.sweep()

    def begin_drain(self) -> None:
        """Readiness goes 503; responses carry ``connection: close`` and the draining header."""
        if self.draining:
            return
        self.draining = True
        identity = (*self.identity_headers, b"%b: 1\r\n" % cv.HEADER_DRAINING.encode())
        self.proxy.identity = identity
        if self.server is not None:
            self.server.identity_headers = identity
            self.server.start_draining()
        log.info("drain_started")

    async def finish_drain(self, timeout_s: float) -> bool:
        """Stop accepting, close idle connections, wait for the others to finish their request.

        True when every connection closed by itself within ``timeout_s``.
        """
        self.begin_drain()
        server = self.server
        if server is None:
            return True
        server.stop_accepting()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while True:
            server.close_idle()
            if not server.connections or loop.time() >= deadline:
                break
            await asyncio.sleep(0.02)
        clean = not server.connections
        log.info(
            "drain_finished" if clean else "drain_timed_out",
            extra={"connections_left": len(server.connections)},
        )
        return clean

    async def drain(self, grace_s: float, timeout_s: float = 30.0) -> bool:
        """Readiness 503, keep serving ``grace_s``, stop accepting, finish in-flight requests."""
        self.begin_drain()
        await asyncio.sleep(grace_s)
        return await self.finish_drain(timeout_s)

    async def stop(self) -> None:
        await self.proxy.shadow.close()
        for task in list(self._retire_tasks):
            task.cancel()
        if self._sweeper is not None:
            self._sweeper.cancel()
            try:
                await self._sweeper
            except asyncio.CancelledError:
                pass
        if self.server is not None:
            await self.server.close()
        for cluster in [*self.snapshot.clusters.values(), *self._retiring]:
            await cluster.stop()
        self._retiring.clear()
