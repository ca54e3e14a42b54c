"""Run one GLB replica: the traffic listener, the admin listener, node discovery."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
import time
from dataclasses import dataclass

import uvloop
from aiohttp import web

from zonegate.config.model import ClusterConfig
from zonegate.glb.admin import admin_app
from zonegate.glb.membership import Membership, NodeEntry
from zonegate.glb.metrics import GlbMetrics
from zonegate.glb.proxy import GlbProxy
from zonegate.glb.zone_choice import Transition, ZoneSelector
from zonegate.node.server import NodeServer

log = logging.getLogger("zonegate.glb")


@dataclass(frozen=True)
class GlbOptions:
    glb_id: str
    host: str
    port: int
    admin_host: str
    admin_port: int
    etcd: str | None = None
    cookie_key: bytes = b""


def static_entries(config: ClusterConfig) -> list[NodeEntry]:
    return [
        NodeEntry(node.id, zone.name, node.address, node.admin)
        for zone in config.zones
        for node in zone.static_nodes
    ]


class Glb:
    """One replica; stateless apart from what its own health checks learned."""

    def __init__(self, config: ClusterConfig, options: GlbOptions) -> None:
        glb = config.glb
        self.config = config
        self.options = options
        self.metrics = GlbMetrics(options.glb_id)
        self.selector = ZoneSelector(
            factor=glb.overprovisioning_factor,
            hold_down_s=glb.failback_hold_down_s,
            ramp_s=glb.failback_ramp_s,
            fail_open=glb.panic == "fail_open",
            clock=time.monotonic,
        )
        self.membership = Membership(self.selector, glb.health_check)
        key = options.cookie_key or f"zonegate:{config.cluster}".encode()
        self.proxy = GlbProxy(config, self.membership, self.selector, self.metrics, cookie_key=key)
        self.server: NodeServer | None = None
        self.runner: web.AppRunner | None = None
        self._watcher: object = None
        self._etcd: object = None
        self._seen_transitions = 0
        self.address: tuple[str, int] | None = None
        self.admin_address: tuple[str, int] | None = None

    def zones(self) -> list[str]:
        return [z.name for z in self.config.zones]

    async def start(self) -> None:
        self.membership.set_nodes(static_entries(self.config), self.zones())
        if self.options.etcd:
            await self._start_discovery(self.options.etcd)
        self.server = NodeServer(self.proxy.handle, self.config.node.listener.limits)
        self.address = await self.server.listen(self.options.host, self.options.port)
        self.runner = web.AppRunner(admin_app(self.proxy), access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, self.options.admin_host, self.options.admin_port)
        await site.start()
        server = site._server
        assert server is not None
        self.admin_address = server.sockets[0].getsockname()[:2]  # type: ignore[attr-defined]
        self._transitions_task = asyncio.create_task(self._count_transitions())

    async def _start_discovery(self, endpoints: str) -> None:
        from zonegate.coordinator.client import EtcdClient
        from zonegate.coordinator.discovery import node_watcher
        from zonegate.coordinator.keys import Keys
        from zonegate.coordinator.records import NodeInfo

        def changed(nodes: dict[str, NodeInfo]) -> None:
            entries = [
                NodeEntry(n.node_id, n.zone, n.address, n.admin_address or n.address)
                for n in nodes.values()
            ]
            if entries:  # an empty view while etcd is down must not drop every node
                self.membership.set_nodes(entries, self.zones())

        client = EtcdClient(endpoints.split(","))
        await client.__aenter__()
        self._etcd = client
        watcher = node_watcher(client, Keys(self.config.cluster), changed)
        watcher.start()
        self._watcher = watcher

    async def _count_transitions(self) -> None:
        while True:
            await asyncio.sleep(0.5)
            transitions: list[Transition] = list(self.selector.transitions)
            for t in transitions[self._seen_transitions :]:
                self.metrics.transitions.labels(t.zone, t.event).inc()
            self._seen_transitions = len(transitions)

    async def stop(self) -> None:
        self._transitions_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._transitions_task
        watcher = self._watcher
        if watcher is not None:
            await watcher.stop()  # type: ignore[attr-defined]
        if self._etcd is not None:
            await self._etcd.close()  # type: ignore[attr-defined]
        if self.server is not None:
            await self.server.close()
        if self.runner is not None:
            await self.runner.cleanup()
        await self.membership.stop()
        self.proxy.pool.close()


async def serve(config: ClusterConfig, options: GlbOptions) -> int:
    glb = Glb(config, options)
    await glb.start()
    assert glb.address is not None and glb.admin_address is not None
    print(
        f"zonegate glb {options.glb_id} listening on {glb.address[0]}:{glb.address[1]}, "
        f"admin on {glb.admin_address[0]}:{glb.admin_address[1]}",
        flush=True,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await glb.stop()
    return 0


def run(config: ClusterConfig, options: GlbOptions) -> int:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(message)s")
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    return uvloop.run(serve(config, options))
