"""Fixtures for SLO engine integration tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from zonegate.slo.metrics_server import MetricsServer


@pytest.fixture
async def metrics_servers() -> AsyncIterator[list[MetricsServer]]:
    """Two nodes (zones a and b) and one GLB, all serving /metrics."""
    servers = [
        MetricsServer("a", "n1"),
        MetricsServer("b", "n2"),
        MetricsServer("a", "glb", edge=True),
    ]
    for server in servers:
        await server.start()
    yield servers
    for server in servers:
        await server.stop()
