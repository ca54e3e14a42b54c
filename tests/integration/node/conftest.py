"""Fixtures: real backends on loopback and an in-process gateway node in front of them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import uvloop

from zonegate.config.loader import parse_config
from zonegate.node.runtime import GatewayNode
from zonegate.testing.backend import TestBackend

NodeFactory = Callable[..., Awaitable[GatewayNode]]
BackendFactory = Callable[..., Awaitable[TestBackend]]


@pytest.fixture
async def gateway() -> AsyncIterator[NodeFactory]:
    nodes: list[GatewayNode] = []

    async def make(config: dict[str, Any], *, zone: str = "zone-a", **kwargs: Any) -> GatewayNode:
        document = {"version": 1, **config}
        node = GatewayNode(parse_config(document), node_id="node-1", zone=zone, **kwargs)
        await node.start("127.0.0.1", 0)
        nodes.append(node)
        return node

    yield make
    for node in nodes:
        await node.stop()
    await asyncio.sleep(0)


def pytest_asyncio_loop_factories(config: object, item: object) -> dict[str, object]:
    """Run the node tests on uvloop, the loop nodes run on in production."""
    return {"uvloop": uvloop.new_event_loop}
