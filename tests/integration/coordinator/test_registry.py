"""Registration bound to leases, and discovery of what is registered."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import pytest

from zonegate.coordinator.client import EtcdClient
from zonegate.coordinator.discovery import node_watcher, service_watcher
from zonegate.coordinator.etcd_server import EtcdCluster
from zonegate.coordinator.keys import Keys
from zonegate.coordinator.metrics import CoordinatorMetrics
from zonegate.coordinator.records import NodeInfo, ServiceEndpoint
from zonegate.coordinator.registry import NodeRegistration, ServiceRegistration

Eventually = Callable[..., Awaitable[None]]
Spawn = Callable[..., subprocess.Popen[str]]


@pytest.fixture
def spawn() -> Iterator[Callable[..., subprocess.Popen[str]]]:
    procs: list[subprocess.Popen[str]] = []

    def start(*argv: str) -> subprocess.Popen[str]:
        proc = subprocess.Popen(
            [sys.executable, "-m", "zonegate.cli.main", *argv],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


async def read_line_with(proc: subprocess.Popen[str], text: str, timeout: float = 15) -> str:
    assert proc.stdout is not None
    stdout = proc.stdout
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = await asyncio.wait_for(asyncio.to_thread(stdout.readline), timeout)
        if text in line:
            return line
        if not line:
            break
    raise AssertionError(f"{text!r} not printed")


@pytest.fixture
async def services(etcd: EtcdClient, cluster_name: str) -> AsyncIterator[dict[str, set[str]]]:
    """The live view of service 'api' as the discovery watcher reports it."""
    view: dict[str, set[str]] = {"api": set()}

    def on_change(current: dict[str, ServiceEndpoint]) -> None:
        view["api"] = {f"{e.zone}/{e.instance_id}@{e.address}" for e in current.values()}

    watcher = service_watcher(etcd, Keys(cluster_name), "api", on_change)
    watcher.start()
    yield view
    await watcher.stop()


def register_argv(etcd_cluster: EtcdCluster, cluster_name: str, ttl: int) -> list[str]:
    return [
        "service", "register", "api", "--address", "127.0.0.1:9001", "--zone", "z1",
        "--id", "i1", "--ttl", str(ttl), "--etcd", ",".join(etcd_cluster.endpoints),
        "--cluster", cluster_name,
    ]  # fmt: skip


async def test_killed_process_disappears_after_ttl(
    etcd_cluster: EtcdCluster,
    cluster_name: str,
    services: dict[str, set[str]],
    spawn: Spawn,
    eventually: Eventually,
) -> None:
    proc = spawn(*register_argv(etcd_cluster, cluster_name, ttl=1))
    await read_line_with(proc, "registered api/z1/i1")
    await eventually(lambda: services["api"] == {"z1/i1@127.0.0.1:9001"})
    proc.send_signal(signal.SIGKILL)
    killed = time.monotonic()
    await eventually(lambda: not services["api"], 5, "registration expired")
    assert time.monotonic() - killed < 1 + 1.5  # TTL + etcd's 0.5 s expiry check + slack


async def test_sigterm_revokes_at_once(
    etcd_cluster: EtcdCluster,
    cluster_name: str,
    services: dict[str, set[str]],
    spawn: Spawn,
    eventually: Eventually,
) -> None:
    proc = spawn(*register_argv(etcd_cluster, cluster_name, ttl=30))
    await read_line_with(proc, "registered api/z1/i1")
    await eventually(lambda: bool(services["api"]))
    proc.send_signal(signal.SIGTERM)
    stopped = time.monotonic()
    await eventually(lambda: not services["api"], 3, "deregistered")
    assert time.monotonic() - stopped < 2.5  # far less than the 30 s TTL
    await read_line_with(proc, "deregistered api/z1/i1")
    assert await asyncio.to_thread(proc.wait, 5) == 0


def node(node_id: str, zone: str = "z1") -> NodeInfo:
    return NodeInfo(node_id, zone, f"127.0.0.1:{8000 + int(node_id[-1])}", version="0.1.0")


async def test_node_registration_update_and_drain(etcd: EtcdClient, cluster_name: str) -> None:
    keys = Keys(cluster_name)
    watcher = node_watcher(etcd, keys)
    watcher.start()
    reg = NodeRegistration(etcd, keys, node("n1"), ttl=2)
    reg.start()
    assert await reg.wait_registered(5)
    seen = await watcher.wait_until(lambda nodes: "z1/n1" in nodes, 5)
    assert seen["z1/n1"].config_revision == 0
    await reg.update(config_revision=42)
    await watcher.wait_until(lambda nodes: nodes["z1/n1"].config_revision == 42, 5)
    started = time.monotonic()
    await reg.stop(revoke=True)
    await watcher.wait_until(lambda nodes: not nodes, 2)
    assert time.monotonic() - started < 1
    await watcher.stop()


async def test_lease_loss_registers_again(
    etcd: EtcdClient,
    cluster_name: str,
    metrics: CoordinatorMetrics,
    eventually: Eventually,
) -> None:
    keys = Keys(cluster_name)
    reg = NodeRegistration(etcd, keys, node("n2"), ttl=1)
    reg.start()
    assert await reg.wait_registered(5)
    first_lease = reg.registration.lease_id
    assert first_lease is not None
    await etcd.revoke_lease(first_lease)  # as if it expired while etcd was unreachable
    await eventually(lambda: reg.registration.registrations == 2, 5, "registered again")
    again = await etcd.get(keys.node("z1", "n2"))
    assert again is not None and again.lease not in (0, first_lease)
    assert metrics.leases_lost._value.get() == 1
    await reg.stop()


async def test_registers_once_etcd_comes_up(
    etcd_factory: Callable[..., EtcdCluster], cluster_name: str, metrics: CoordinatorMetrics
) -> None:
    cluster = etcd_factory(1)
    cluster.stop_member(0)
    async with EtcdClient(cluster.endpoints, timeout=0.5, metrics=metrics) as client:
        reg = NodeRegistration(client, Keys(cluster_name), node("n3"), ttl=2)
        reg.start()
        assert not await reg.wait_registered(0.5)
        await asyncio.to_thread(cluster.restart_member, 0)
        assert await reg.wait_registered(5)
        assert await client.get(Keys(cluster_name).node("z1", "n3")) is not None
        await reg.stop()


async def test_discovery_follows_many_changes(
    etcd: EtcdClient,
    cluster_name: str,
    services: dict[str, set[str]],
    eventually: Eventually,
) -> None:
    keys = Keys(cluster_name)
    regs = [
        ServiceRegistration(
            etcd, keys, ServiceEndpoint("api", f"z{i % 3}", f"i{i}", f"127.0.0.1:{9100 + i}"), ttl=2
        )
        for i in range(20)
    ]
    other = ServiceRegistration(etcd, keys, ServiceEndpoint("other", "z1", "x", "127.0.0.1:1"))
    for reg in [*regs, other]:
        reg.start()
    await eventually(lambda: len(services["api"]) == 20, 10, "all 20 instances seen")
    await asyncio.gather(*(reg.stop() for reg in regs[:10]))
    expected = {f"z{i % 3}/i{i}@127.0.0.1:{9100 + i}" for i in range(10, 20)}
    await eventually(lambda: services["api"] == expected, 5, "half deregistered")
    await asyncio.gather(*(reg.stop() for reg in [*regs[10:], other]))
