"""Fixtures for SLO engine integration tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from zonegate.slo.metrics_server import MetricsServer
from zonegate.slo.prometheus_server import Alertmanager, Prometheus


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


@pytest.fixture
async def prometheus(tmp_path: Path) -> AsyncIterator[Prometheus]:
    server = Prometheus(tmp_path / "prometheus")
    server.workdir.mkdir()
    yield server
    server.stop()


@pytest.fixture
async def alertmanager(tmp_path: Path) -> AsyncIterator[Alertmanager]:
    server = Alertmanager(tmp_path / "alertmanager")
    server.workdir.mkdir()
    yield server
    server.stop()
