"""Zero failed requests across a drain, with real node processes and a client that never retries.

Two nodes serve the same backend. The load generator acts as a GLB would: it
polls each node's /readyz and sends new requests to a ready node. Node A gets
SIGTERM under steady load; slow requests are started on it just before its
grace period ends, so they are in flight when it stops accepting.
"""

from __future__ import annotations

import asyncio
import collections
import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from zonegate.testing.http1 import Http1Client
from zonegate.testing.ports import free_port, wait_port

GRACE_S = 1.5
WORKERS = 12


@dataclass
class NodeProcess:
    name: str
    proc: subprocess.Popen[bytes]
    port: int
    admin_port: int
    access_log: Path


@pytest.fixture
def node_processes(tmp_path: Path) -> Iterator[list[NodeProcess]]:
    started: list[NodeProcess] = []
    yield started
    for node in started:
        if node.proc.poll() is None:
            node.proc.kill()
        node.proc.wait(10)


def write_config(tmp_path: Path, backend: str) -> Path:
    path = tmp_path / "cluster.yaml"
    path.write_text(
        "version: 1\n"
        "clusters:\n"
        f"  - name: app\n    endpoints: [{{address: '{backend}', zone: zone-a}}]\n"
        "routes:\n  - name: all\n    upstream: app\n"
    )
    return path


def spawn(command: list[str], stderr_path: Path) -> subprocess.Popen[bytes]:
    with stderr_path.open("wb") as stderr:
        return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=stderr)


async def start_node(
    started: list[NodeProcess], config: Path, name: str, tmp_path: Path
) -> NodeProcess:
    port, admin = free_port(), free_port()
    access_log = tmp_path / f"{name}-access.log"
    command = [
        sys.executable, "-m", "zonegate.cli.main", "node", "-c", str(config),
        "--id", name, "--zone", "zone-a", "--listen", f"127.0.0.1:{port}",
        "--admin", f"127.0.0.1:{admin}", "--drain-grace", str(GRACE_S),
        "--access-log", str(access_log),
    ]  # fmt: skip
    proc = spawn(command, tmp_path / f"{name}.err")
    node = NodeProcess(name, proc, port, admin, access_log)
    started.append(node)
    await asyncio.to_thread(wait_port, admin, proc, 60.0)
    return node


class Load:
    """Steady load from ``WORKERS`` loops; each failure is kept, nothing is retried."""

    def __init__(self, nodes: list[NodeProcess]) -> None:
        self.nodes = nodes
        self.ready = {n.name: True for n in nodes}
        self.ok_by_node: collections.Counter[str] = collections.Counter()
        self.failures: list[str] = []
        self.stopping = asyncio.Event()

    def pick(self) -> NodeProcess:
        for node in self.nodes:
            if self.ready[node.name]:
                return node
        raise AssertionError("no ready node")

    async def poll_readiness(self) -> None:
        async with aiohttp.ClientSession() as session:
            while not self.stopping.is_set():
                for node in self.nodes:
                    try:
                        url = f"http://127.0.0.1:{node.admin_port}/readyz"
                        async with session.get(url) as resp:
                            self.ready[node.name] = resp.status == 200
                    except aiohttp.ClientError:
                        self.ready[node.name] = False
                await asyncio.sleep(0.05)

    async def worker(self) -> None:
        clients: dict[str, Http1Client] = {}
        try:
            while not self.stopping.is_set():
                node = self.pick()
                client = clients.get(node.name)
                if client is None:
                    client = clients[node.name] = Http1Client("127.0.0.1", node.port)
                try:
                    resp = await client.request("GET", "/delay/10")
                except Exception as exc:  # every failure counts
                    self.failures.append(f"{node.name}: {exc!r}")
                    continue
                if resp.status != 200:
                    self.failures.append(f"{node.name}: status {resp.status}")
                else:
                    self.ok_by_node[resp.headers["x-zonegate-node"]] += 1
        finally:
            for client in clients.values():
                await client.close()


async def slow_request(node: NodeProcess) -> tuple[int, dict[str, str]]:
    client = Http1Client("127.0.0.1", node.port)
    try:
        resp = await client.request("GET", "/delay/1000")
        return resp.status, resp.headers
    finally:
        await client.close()


async def test_zero_failed_requests_across_a_drain(backends, node_processes, tmp_path) -> None:
    backend = await backends("app")
    config = write_config(tmp_path, backend.address)
    a, b = await asyncio.gather(
        start_node(node_processes, config, "node-a", tmp_path),
        start_node(node_processes, config, "node-b", tmp_path),
    )
    load = Load([a, b])
    poller = asyncio.create_task(load.poll_readiness())
    workers = [asyncio.create_task(load.worker()) for _ in range(WORKERS)]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    while load.ok_by_node["node-a"] < 50:  # steady load on node A
        assert loop.time() < deadline and not load.failures, (load.ok_by_node, load.failures)
        await asyncio.sleep(0.02)

    a.proc.send_signal(signal.SIGTERM)
    sigterm_at = loop.time()
    await asyncio.sleep(GRACE_S - 0.4)
    assert a.proc.poll() is None  # still serving through the grace period
    slow = [asyncio.create_task(slow_request(a)) for _ in range(5)]
    results = await asyncio.gather(*slow)
    slow_done_at = loop.time()
    code = await asyncio.to_thread(a.proc.wait, 10)
    exited_at = loop.time()
    await asyncio.sleep(0.3)
    load.stopping.set()
    await asyncio.gather(*workers, poller)

    assert load.failures == []
    assert code == 0
    # The slow requests outlived the listener (closed at the end of the grace period).
    assert slow_done_at > sigterm_at + GRACE_S
    assert exited_at >= slow_done_at - 0.05
    for status, headers in results:
        assert status == 200
        assert headers["x-zonegate-draining"] == "1"
        assert headers["connection"] == "close"
    assert load.ok_by_node["node-b"] > 5
    # Node A's access log accounts for every answer the clients got from it.
    lines = [json.loads(line) for line in a.access_log.read_text().splitlines()]
    assert len(lines) == load.ok_by_node["node-a"] + len(results)
    assert all(line["status"] == 200 for line in lines)
    stderr = (tmp_path / "node-a.err").read_text()
    events = [json.loads(line)["event"] for line in stderr.splitlines() if line.startswith("{")]
    assert "drain_started" in events and "drain_finished" in events
    assert events[-1] == "node_stopped"
