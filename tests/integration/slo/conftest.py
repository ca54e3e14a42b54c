"""Fixtures for SLO engine integration tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from zonegate import conventions as cv
from zonegate.config.loader import parse_config
from zonegate.node.ops.admin import AdminServer, AdminState
from zonegate.node.ops.assembly import NodeOps
from zonegate.node.runtime import GatewayNode
from zonegate.slo.metrics_server import MetricsServer
from zonegate.slo.prometheus_server import Alertmanager, Prometheus
from zonegate.testing.backend import TestBackend


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


@dataclass
class RealNode:
    """A real gateway node (data plane + ops + admin listener) in front of test backends:
    ``/api/...`` goes to a healthy backend, ``/flaky/...`` to one answering 503."""

    node: GatewayNode
    ops: NodeOps
    admin: AdminServer
    backends: list[TestBackend]

    def url(self, path: str) -> str:
        assert self.node.address is not None
        host, port = self.node.address
        return f"http://{host}:{port}{path}"

    @property
    def metrics_url(self) -> str:
        assert self.admin.address is not None
        host, port = self.admin.address
        return f"http://{host}:{port}{cv.ADMIN_METRICS}"


@pytest.fixture
async def real_node() -> AsyncIterator[RealNode]:
    app = await TestBackend("app").start()
    flaky = await TestBackend("flaky").start()
    flaky.state.fail_status = 503
    cfg = parse_config(
        {
            "version": 1,
            "clusters": [
                {"name": "app", "endpoints": [{"address": app.address, "zone": "zone-a"}]},
                {"name": "flaky", "endpoints": [{"address": flaky.address, "zone": "zone-a"}]},
            ],
            "routes": [
                {
                    "name": "api",
                    "match": {"path": {"prefix": "/api/"}},
                    "upstream": "app",
                    "rewrite": {"strip_prefix": "/api"},
                },
                {"name": "flaky", "match": {"path": {"prefix": "/flaky/"}}, "upstream": "flaky"},
            ],
        }
    )
    ops = NodeOps(cfg.node, "node-1", "zone-a")
    node = GatewayNode(cfg, node_id="node-1", zone="zone-a", **ops.node_kwargs())
    ops.start()
    await node.start("127.0.0.1", 0)
    admin = AdminServer(AdminState(node, ops.registry, None, lambda: True))
    await admin.start("127.0.0.1", 0)
    yield RealNode(node, ops, admin, [app, flaky])
    await admin.stop()
    await node.stop()
    await ops.close()
    for backend in (app, flaky):
        await backend.stop()
