"""A node with a real etcd: registration, config from etcd, discovery, fail-static, drain."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from prometheus_client import CollectorRegistry

from zonegate.config.loader import parse_config
from zonegate.coordinator.client import EtcdClient
from zonegate.coordinator.config_store import ConfigStore
from zonegate.coordinator.keys import Keys
from zonegate.coordinator.metrics import CoordinatorMetrics
from zonegate.coordinator.records import NodeInfo, ServiceEndpoint
from zonegate.coordinator.registry import ServiceRegistration
from zonegate.node.ops.coordination import NodeCoordination
from zonegate.testing.ports import free_port, wait_port


async def eventually(check: Callable[[], Any], timeout: float = 10.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if isinstance(result, Awaitable):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout}s: {what}")
        await asyncio.sleep(0.02)


async def backend_name(url: str) -> str | int:
    """The name of the backend that answered, or the status of an error."""
    async with aiohttp.ClientSession() as session, session.get(url) as resp:
        if resp.status != 200:
            return resp.status
        body = await resp.json()
        return str(body["backend"])


def document(cluster: str, app: str) -> dict[str, Any]:
    return {
        "cluster": cluster,
        "clusters": [
            {"name": "app", "endpoints": [{"address": app, "zone": "zone-a"}]},
            {"name": "orders", "service": "orders", "outlier_detection": None},
        ],
        "routes": [
            {"name": "orders", "match": {"path": {"prefix": "/orders"}}, "upstream": "orders"},
            {"name": "app", "upstream": "app"},
        ],
    }


async def node_info(client: EtcdClient, keys: Keys) -> NodeInfo | None:
    kv = await client.get(keys.node("zone-a", "node-1"))
    return NodeInfo.from_json(kv.value) if kv is not None else None


async def test_registration_config_and_discovery(
    etcd_cluster, cluster_name, ops_node, backends
) -> None:
    b1, b2, b3, b4 = [await backends(n) for n in ("b1", "b2", "b3", "b4")]
    item = await ops_node(document(cluster_name, b1.address))
    node = item.node
    keys = Keys(cluster_name)
    coordination = NodeCoordination(
        node,
        ",".join(etcd_cluster.endpoints),
        address=f"127.0.0.1:{node.address[1]}",
        admin_address="127.0.0.1:19999",
        registry=item.ops.registry,
        lease_ttl=2,
    )
    await coordination.start()
    test_metrics = CoordinatorMetrics(CollectorRegistry())
    async with EtcdClient(etcd_cluster.endpoints, metrics=test_metrics) as client:
        try:
            await eventually(lambda: node_info(client, keys), what="registration")
            info = await node_info(client, keys)
            assert info is not None
            assert info.address == f"127.0.0.1:{node.address[1]}"
            assert (info.admin_address, info.zone, info.config_revision) == (
                "127.0.0.1:19999",
                "zone-a",
                0,
            )
            assert await backend_name(item.url("/")) == "b1"  # the local file
            assert await backend_name(item.url("/orders")) == 503  # no instance yet

            # Discovery: the service's registrations become the cluster's hosts.
            reg = ServiceRegistration(
                client, keys, ServiceEndpoint("orders", "zone-a", "o1", b2.address), ttl=2
            )
            reg.start()
            await eventually(lambda: _is(item.url("/orders"), "b2"), what="b2 discovered")

            # A new config from etcd: applied, and the discovered hosts survive it.
            store = ConfigStore(client, keys)
            stored, _ = await store.apply(
                parse_config({"version": 1, **document(cluster_name, b3.address)})
            )
            await eventually(lambda: node.revision == stored.revision, what="config applied")
            assert await backend_name(item.url("/")) == "b3"
            assert await backend_name(item.url("/orders")) == "b2"
            await eventually(
                lambda: _revision_published(client, keys, stored.revision), what="republished"
            )

            # A bad config is refused; the last good one stays.
            bad = json.dumps({"version": 1, "cluster": cluster_name, "routes": [{"name": "x"}]})
            bad_revision = await client.put(keys.config, bad)
            await eventually(
                lambda: coordination.config.rejected_revision == bad_revision, what="refused"
            )
            assert node.revision == stored.revision
            assert await backend_name(item.url("/")) == "b3"
            assert any("upstream" in p for p in coordination.config.last_problems)

            # Instances come and go.
            reg2 = ServiceRegistration(
                client, keys, ServiceEndpoint("orders", "zone-a", "o2", b4.address), ttl=2
            )
            reg2.start()
            await reg.stop(revoke=True)
            await eventually(lambda: _is(item.url("/orders"), "b4"), what="moved to b4")
            await reg2.stop(revoke=True)
            await eventually(
                lambda: node.snapshot.clusters["orders"].hosts == [], what="no instance left"
            )
            assert await backend_name(item.url("/orders")) == 503

            # Draining revokes the registration at once.
            await coordination.before_drain()
            assert await node_info(client, keys) is None
        finally:
            await coordination.stop()


async def _is(url: str, name: str) -> bool:
    return await backend_name(url) == name


async def _revision_published(client: EtcdClient, keys: Keys, revision: int) -> bool:
    info = await node_info(client, keys)
    return info is not None and info.config_revision == revision


@pytest.fixture
def node_process() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)


def spawn(command: list[str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)


async def get_json(url: str) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as session, session.get(url) as resp:
        return resp.status, await resp.json()


async def test_starts_without_etcd_fails_static_and_revokes_on_drain(
    etcd_factory, cluster_name, backends, node_process, tmp_path
) -> None:
    b1, b2 = await backends("b1"), await backends("b2")
    etcd = etcd_factory(1)
    await asyncio.to_thread(etcd.stop_member, 0)
    config = tmp_path / "cluster.yaml"
    config.write_text(yaml.safe_dump({"version": 1, **document(cluster_name, b1.address)}))
    port, admin = free_port(), free_port()
    command = [
        sys.executable, "-m", "zonegate.cli.main", "node", "-c", str(config),
        "--id", "node-1", "--zone", "zone-a", "--listen", f"127.0.0.1:{port}",
        "--admin", f"127.0.0.1:{admin}", "--drain-grace", "2", "--lease-ttl", "1",
        "--etcd", ",".join(etcd.endpoints),
    ]  # fmt: skip
    proc = spawn(command, tmp_path / "node.log")
    node_process.append(proc)
    await asyncio.to_thread(wait_port, admin, proc, 60.0)
    url, admin_url = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{admin}"
    # etcd is down: the node serves its local file and is ready.
    assert (await get_json(admin_url + "/readyz"))[0] == 200
    assert await backend_name(url + "/") == "b1"
    _, status = await get_json(admin_url + "/status")
    assert status["etcd"]["reachable"] is False and status["etcd"]["registered"] is False

    await asyncio.to_thread(etcd.restart_member, 0)
    keys = Keys(cluster_name)
    async with EtcdClient(etcd.endpoints, metrics=CoordinatorMetrics(CollectorRegistry())) as c:
        await eventually(lambda: node_info(c, keys), what="registered once etcd is back")
        stored, _ = await ConfigStore(c, keys).apply(
            parse_config({"version": 1, **document(cluster_name, b2.address)})
        )
        await eventually(lambda: _is(url + "/", "b2"), what="config from etcd")
        _, shown = await get_json(admin_url + "/config")
        assert (shown["revision"], shown["source"]) == (stored.revision, "etcd")

    # etcd lost: the node keeps its last good config, and readiness stays up.
    await asyncio.to_thread(etcd.kill_member, 0)
    await eventually(lambda: _etcd_reachable(admin_url, False), what="node noticed etcd is gone")
    for _ in range(10):
        assert await backend_name(url + "/") == "b2"
    assert (await get_json(admin_url + "/readyz"))[0] == 200

    # etcd back: the node registers again (its 1 s lease expired meanwhile).
    await asyncio.to_thread(etcd.restart_member, 0)
    async with EtcdClient(etcd.endpoints, metrics=CoordinatorMetrics(CollectorRegistry())) as c:
        await eventually(lambda: node_info(c, keys), what="registered again")
        # Drain: the registration goes first, while the node still serves its grace period.
        proc.send_signal(signal.SIGTERM)
        await eventually(lambda: _gone(c, keys), timeout=1.0, what="lease revoked at once")
        assert proc.poll() is None
        assert (await get_json(admin_url + "/readyz"))[0] == 503
        assert await backend_name(url + "/") == "b2"
    assert await asyncio.to_thread(proc.wait, 15) == 0


async def _etcd_reachable(admin_url: str, value: bool) -> bool:
    _, status = await get_json(admin_url + "/status")
    return bool(status["etcd"]["reachable"] is value)


async def _gone(client: EtcdClient, keys: Keys) -> bool:
    return await node_info(client, keys) is None
