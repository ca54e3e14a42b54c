"""Cluster-wide rate limits on a real etcd: 3 limiter instances as 3 nodes in one process.

Each "node" has its own EtcdClient and metrics registry. Load is driven by
calling the backends at paced rates (skewed 70/20/10), as the rate-limit filter
would per request.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass

import pytest
from prometheus_client import CollectorRegistry

from zonegate import conventions as names
from zonegate.coordinator.client import EtcdClient
from zonegate.coordinator.etcd_server import EtcdCluster
from zonegate.coordinator.global_ratelimit import GlobalRateLimits
from zonegate.coordinator.keys import Keys
from zonegate.coordinator.metrics import CoordinatorMetrics
from zonegate.coordinator.records import NodeInfo
from zonegate.coordinator.registry import NodeRegistration
from zonegate.node.policy.decision import LimitSpec
from zonegate.node.policy.limiter import LocalRateLimiter, RateLimitBackend

Eventually = Callable[..., Awaitable[None]]
LIMIT = 300
SKEW = (0.7, 0.2, 0.1)
SPEC = LimitSpec("global", "sliding_window", LIMIT, 1.0, LIMIT, 1000, "cluster")


@dataclass
class TestNode:
    __test__ = False
    name: str
    client: EtcdClient
    limits: GlobalRateLimits
    backend: RateLimitBackend
    registry: CollectorRegistry

    def syncs(self) -> float:
        value = self.registry.get_sample_value(
            names.GLOBAL_RATELIMIT_SYNCS_TOTAL, {names.LABEL_OUTCOME: "ok"}
        )
        assert value is not None
        return value


async def start_nodes(
    stack: AsyncExitStack, endpoints: list[str], cluster: str, count: int = 3
) -> list[TestNode]:
    nodes = []
    for i in range(count):
        registry = CollectorRegistry()
        client = await stack.enter_async_context(
            EtcdClient(endpoints, timeout=1.0, metrics=CoordinatorMetrics(registry))
        )
        limits = GlobalRateLimits(Keys(cluster), f"n{i}", "zone-a", registry=registry)
        backend = limits.backend("api", SPEC, LocalRateLimiter(SPEC, time.monotonic))
        limits.start(client)
        stack.push_async_callback(limits.stop)
        nodes.append(TestNode(f"n{i}", client, limits, backend, registry))
    return nodes


async def drive(
    nodes: Sequence[TestNode], total_rate: float, seconds: float, skew: Sequence[float] = SKEW
) -> list[int]:
    """Offer ``total_rate`` req/s split by ``skew`` for ``seconds``; admitted per node."""
    admitted = [0] * len(nodes)
    offered = [0] * len(nodes)
    started = time.monotonic()
    while True:
        elapsed = time.monotonic() - started
        for i, node in enumerate(nodes):
            due = int(total_rate * skew[i] * min(elapsed, seconds)) - offered[i]
            for _ in range(due):
                admitted[i] += node.backend.hit("consumer-a").allowed
            offered[i] += due
        if elapsed >= seconds:
            return admitted
        await asyncio.sleep(0.002)


async def all_shared(nodes: Sequence[TestNode], value: bool, eventually: Eventually) -> None:
    await eventually(
        lambda: all(n.limits.shared is value for n in nodes), 15, f"every node shared={value}"
    )


@pytest.fixture
async def stack() -> AsyncIterator[AsyncExitStack]:
    async with AsyncExitStack() as exits:
        yield exits


async def test_skewed_load_is_admitted_at_the_global_limit(
    etcd_cluster: EtcdCluster, cluster_name: str, stack: AsyncExitStack, eventually: Eventually
) -> None:
    nodes = await start_nodes(stack, etcd_cluster.endpoints, cluster_name)
    await all_shared(nodes, True, eventually)
    await drive(nodes, 3 * LIMIT, 1.0)  # warm up: windows full, rates known
    seconds = 6.0
    admitted = await drive(nodes, 3 * LIMIT, seconds)
    rate = sum(admitted) / seconds
    assert abs(rate - LIMIT) <= 0.05 * LIMIT, (rate, admitted)
    # every node got a part, the busiest the most (each request has the same chance)
    assert admitted[0] > admitted[1] > admitted[2] > 0, admitted
    assert all(n.limits.shared for n in nodes)


async def test_etcd_writes_do_not_grow_with_the_request_rate(
    etcd_cluster: EtcdCluster, cluster_name: str, stack: AsyncExitStack, eventually: Eventually
) -> None:
    nodes = await start_nodes(stack, etcd_cluster.endpoints, cluster_name)
    await all_shared(nodes, True, eventually)
    per_second = []
    for total_rate in (60.0, 3000.0):
        before = [n.syncs() for n in nodes]
        revision = (await nodes[0].client.read(Keys(cluster_name).root)).revision
        seconds = 2.0
        await drive(nodes, total_rate, seconds, skew=(1 / 3, 1 / 3, 1 / 3))
        after = (await nodes[0].client.read(Keys(cluster_name).root)).revision
        syncs = [(n.syncs() - b) / seconds for n, b in zip(nodes, before, strict=True)]
        # one transaction per 100 ms sync interval per node, at most
        assert all(5 <= x <= 11 for x in syncs), syncs
        per_second.append((after - revision) / seconds)
    low, high = per_second
    # 50x the requests, about the same writes (all nodes write every interval in both)
    assert high <= 3 * 11, per_second
    assert high <= low * 1.5 + 3, per_second


async def test_fallback_to_the_local_share_while_etcd_is_down(
    etcd_factory: Callable[..., EtcdCluster],
    cluster_name: str,
    stack: AsyncExitStack,
    eventually: Eventually,
) -> None:
    etcd = etcd_factory(1)
    nodes = await start_nodes(stack, etcd.endpoints, cluster_name)
    keys = Keys(cluster_name)
    for node in nodes:
        registration = NodeRegistration(
            node.client, keys, NodeInfo(node.name, "zone-a", "127.0.0.1:1"), ttl=3
        )
        registration.start()
        stack.push_async_callback(registration.stop)
    await eventually(lambda: all(n.limits.live_nodes == 3 for n in nodes), 10, "3 live nodes")
    await all_shared(nodes, True, eventually)

    await asyncio.to_thread(etcd.stop_member, 0)
    await all_shared(nodes, False, eventually)
    await drive(nodes, 3 * LIMIT, 1.0)  # the previous window fills each node's share
    seconds = 3.0
    admitted = await drive(nodes, 3 * LIMIT, seconds)
    share = LIMIT / 3
    rates = [a / seconds for a in admitted]
    # each node alone: at most limit / 3; the two busy ones use all of it
    assert all(r <= share * 1.05 for r in rates), rates
    assert rates[0] >= share * 0.9 and rates[1] >= share * 0.9, rates
    assert rates[2] == pytest.approx(0.1 * 3 * LIMIT, rel=0.1)  # 90 req/s offered < share

    await asyncio.to_thread(etcd.restart_member, 0)
    await all_shared(nodes, True, eventually)
    await drive(nodes, 3 * LIMIT, 1.0)
    admitted = await drive(nodes, 3 * LIMIT, 3.0)
    assert abs(sum(admitted) / 3.0 - LIMIT) <= 0.07 * LIMIT, admitted
