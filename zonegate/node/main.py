"""Run one gateway node in this process until SIGTERM/SIGINT, then drain and exit."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from dataclasses import dataclass

import uvloop

from zonegate.config.model import ClusterConfig
from zonegate.node.runtime import GatewayNode

log = logging.getLogger("zonegate.node")


@dataclass(frozen=True)
class NodeOptions:
    node_id: str
    zone: str
    host: str | None = None
    port: int | None = None
    reuse_port: bool = False
    drain_grace_s: float = 0.0
    drain_timeout_s: float = 30.0


async def serve(config: ClusterConfig, options: NodeOptions) -> int:
    node = GatewayNode(config, node_id=options.node_id, zone=options.zone)
    host, port = await node.start(options.host, options.port, reuse_port=options.reuse_port)
    print(
        f"zonegate node {options.node_id} ({options.zone}) listening on {host}:{port}", flush=True
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    clean = await node.drain(options.drain_grace_s, options.drain_timeout_s)
    await node.stop()
    return 0 if clean else 1


def run(config: ClusterConfig, options: NodeOptions) -> int:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(message)s")
    return uvloop.run(serve(config, options))
