"""Fixtures: test backends, and in-process gateway nodes with their operational parts."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest
import uvloop
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from zonegate.config.loader import parse_config
from zonegate.config.node import NodeSettings
from zonegate.node.ops.assembly import NodeOps
from zonegate.node.runtime import GatewayNode
from zonegate.testing.backend import TestBackend

BackendFactory = Callable[..., Awaitable[TestBackend]]


@dataclass
class OpsNode:
    node: GatewayNode
    ops: NodeOps
    spans: InMemorySpanExporter

    def url(self, path: str = "/") -> str:
        assert self.node.address is not None
        host, port = self.node.address
        return f"http://{host}:{port}{path}"


OpsNodeFactory = Callable[..., Awaitable[OpsNode]]


@pytest.fixture
async def ops_node() -> AsyncIterator[OpsNodeFactory]:
    """``await ops_node(config_dict, node={...settings...})``: a started node with ops."""
    made: list[OpsNode] = []

    async def make(
        config: dict[str, Any],
        *,
        node: dict[str, Any] | None = None,
        zone: str = "zone-a",
        node_id: str = "node-1",
        revision: int = 0,
        **start: Any,
    ) -> OpsNode:
        document = {"version": 1, **config}
        if node is not None:
            document["node"] = node
        cfg = parse_config(document)
        settings: NodeSettings = cfg.node
        spans = InMemorySpanExporter()
        ops = NodeOps(settings, node_id, zone, span_processor=SimpleSpanProcessor(spans))
        gw = GatewayNode(cfg, node_id=node_id, zone=zone, revision=revision, **ops.node_kwargs())
        ops.start()
        await gw.start("127.0.0.1", 0, **start)
        made.append(OpsNode(gw, ops, spans))
        return made[-1]

    yield make
    for item in made:
        await item.node.stop()
        await item.ops.close()
    await asyncio.sleep(0)


def pytest_asyncio_loop_factories(config: object, item: object) -> dict[str, object]:
    """Run on uvloop, the loop nodes run on in production."""
    return {"uvloop": uvloop.new_event_loop}
