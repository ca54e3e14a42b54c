"""GLB node discovery from etcd registrations, and routing on the last node set when
etcd goes away (a coordination outage must not become a data-plane outage)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp

from zonegate.config.loader import parse_config
from zonegate.coordinator.client import EtcdClient
from zonegate.coordinator.keys import Keys
from zonegate.coordinator.records import NodeInfo
from zonegate.coordinator.registry import NodeRegistration
from zonegate.glb.main import Glb, GlbOptions
from zonegate.testing.backend import TestBackend


async def wait_for(predicate: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


async def test_nodes_from_etcd_and_routing_survives_etcd_loss(etcd_factory, cluster_name) -> None:
    etcd = etcd_factory(1)
    nodes = {"a": await TestBackend("a-0").start(), "b": await TestBackend("b-0").start()}
    config = parse_config(
        {
            "version": 1,
            "cluster": cluster_name,
            "zones": [{"name": "a", "region": "eu"}, {"name": "b", "region": "eu"}],
            "regions": [{"name": "eu", "zones": ["a", "b"]}],
            "glb": {"health_check": {"path": "/healthz", "interval_s": 0.2}},
        }
    )
    client = EtcdClient(etcd.endpoints)
    await client.__aenter__()
    registrations = [
        NodeRegistration(
            client,
            Keys(cluster_name),
            NodeInfo(node_id=f"{zone}-0", zone=zone, address=b.address, admin_address=b.address),
            ttl=2,
        )
        for zone, b in nodes.items()
    ]
    glb = Glb(
        config, GlbOptions("glb-1", "127.0.0.1", 0, "127.0.0.1", 0, etcd=",".join(etcd.endpoints))
    )
    try:
        for registration in registrations:
            registration.start()
            assert await registration.wait_registered(10)
        await glb.start()
        await wait_for(lambda: len(glb.membership.hosts) == 2)
        assert glb.address is not None
        url = f"http://127.0.0.1:{glb.address[1]}/echo"
        async with aiohttp.ClientSession() as session:
            async with session.get(url) as resp:
                assert resp.status == 200
                assert (await resp.json())["backend"] == "a-0"
            etcd.stop()  # every member gone: the GLB keeps its last node set
            served = []
            for _ in range(20):
                async with session.get(url) as resp:
                    assert resp.status == 200
                    served.append((await resp.json())["backend"])
                await asyncio.sleep(0.1)
            assert set(served) == {"a-0"}
            assert len(glb.membership.hosts) == 2
            # ... and still fails over on its own health checks.
            await nodes["a"].stop()
            await wait_for(lambda: not glb.membership.hosts["a-0"].health_ok)
            async with session.get(url) as resp:
                assert resp.status == 200
                assert (await resp.json())["backend"] == "b-0"
    finally:
        await glb.stop()
        for registration in registrations:
            await registration.stop(revoke=False)
        await client.close()
        for backend in nodes.values():
            await backend.stop()
