"""The etcd client wrapper against real etcd servers."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from zonegate.coordinator.client import EtcdClient, parse_endpoints
from zonegate.coordinator.errors import EtcdUnavailableError
from zonegate.coordinator.etcd_server import EtcdCluster
from zonegate.coordinator.etcd_types import Compare, Delete, Get, Put
from zonegate.coordinator.metrics import CoordinatorMetrics
from zonegate.testing.ports import free_port


def test_parse_endpoints() -> None:
    assert parse_endpoints("http://a:1, b:2/") == [("a", 1), ("b", 2)]
    with pytest.raises(ValueError, match="host:port"):
        parse_endpoints("nohost")
    with pytest.raises(ValueError, match="no etcd endpoint"):
        parse_endpoints(" , ")


async def test_key_values_and_transactions(etcd: EtcdClient, cluster_name: str) -> None:
    base = f"/{cluster_name}/"
    rev1 = await etcd.put(base + "a", "1")
    rev2 = await etcd.put(base + "b", b"2")
    assert rev2 > rev1
    got = await etcd.get(base + "a")
    assert got is not None and got.value == b"1" and got.mod_revision == rev1
    assert await etcd.get(base + "missing") is None
    listing = await etcd.get_prefix(base)
    assert [kv.key for kv in listing.kvs] == [base + "a", base + "b"]
    assert listing.revision >= rev2

    ok = await etcd.txn(
        [Compare(base + "a", "mod", "==", rev1)],
        [Put(base + "c", b"3"), Get(base, prefix=True)],
        [Get(base + "a")],
    )
    assert ok.succeeded and ok.revision > rev2
    assert [kv.key for kv in ok.gets[0]] == [base + "a", base + "b", base + "c"]
    stale = await etcd.txn(
        [Compare(base + "a", "mod", "==", rev1 - 1)], [Put(base + "d", b"4")], [Get(base + "a")]
    )
    assert not stale.succeeded
    assert stale.gets[0][0].value == b"1"
    assert await etcd.get(base + "d") is None
    await etcd.txn([], [Delete(base, prefix=True)])
    assert (await etcd.get_prefix(base)).kvs == ()


async def test_leases(etcd: EtcdClient, cluster_name: str) -> None:
    lease = await etcd.grant_lease(5)
    assert lease.ttl >= 5
    await etcd.put(f"/{cluster_name}/leased", "x", lease=lease.id)
    assert await etcd.keepalive(lease.id) > 0
    await etcd.revoke_lease(lease.id)
    assert await etcd.get(f"/{cluster_name}/leased") is None
    assert await etcd.keepalive(lease.id) <= 0
    await etcd.revoke_lease(lease.id)  # already gone: fine


async def test_dead_endpoint_is_skipped(
    etcd_cluster: EtcdCluster, metrics: CoordinatorMetrics
) -> None:
    dead = f"127.0.0.1:{free_port()}"
    async with EtcdClient([dead, *etcd_cluster.endpoints], metrics=metrics) as client:
        await client.put("/skip/k", "v")
        assert client.current_endpoint == etcd_cluster.endpoints[0]
        assert client.reachable
    assert metrics.endpoint_switches._value.get() >= 1
    assert metrics.etcd_reachable._value.get() == 1


async def test_unreachable_is_one_clear_error(metrics: CoordinatorMetrics) -> None:
    async with EtcdClient(f"127.0.0.1:{free_port()}", probe_interval=None, metrics=metrics) as c:
        started = time.monotonic()
        with pytest.raises(EtcdUnavailableError, match="cannot reach etcd"):
            await c.get("/x")
        assert time.monotonic() - started < 2
        assert not c.reachable
    assert metrics.etcd_reachable._value.get() == 0


async def test_paused_member_times_out_and_client_moves_on(
    etcd_factory: Callable[..., EtcdCluster], metrics: CoordinatorMetrics
) -> None:
    cluster = etcd_factory(3)
    first = cluster.members[0]
    cluster.pause_member(0)
    try:
        async with EtcdClient(
            cluster.endpoints, timeout=0.5, probe_interval=None, metrics=metrics
        ) as c:
            started = time.monotonic()
            await c.put("/paused/k", "v")  # first endpoint hangs, the next answers
            assert time.monotonic() - started < 3
            assert c.current_endpoint != first.endpoint
    finally:
        cluster.resume_member(0)


async def test_members_and_leader(etcd_cluster3: EtcdCluster, metrics: CoordinatorMetrics) -> None:
    async with EtcdClient(etcd_cluster3.endpoints, metrics=metrics) as client:
        members = await client.members()
    assert len(members) == 3
    assert sum(m.is_leader for m in members) == 1
    leader = next(m for m in members if m.is_leader)
    assert leader.name == etcd_cluster3.members[etcd_cluster3.leader_index()].name
