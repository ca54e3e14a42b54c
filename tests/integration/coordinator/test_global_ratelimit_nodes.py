"""A ``scope: cluster`` limit through real node processes (``zonegate node --etcd``), and
the leader's housekeeping of old rate-limit windows."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from zonegate.coordinator.client import EtcdClient
from zonegate.coordinator.etcd_server import EtcdCluster
from zonegate.coordinator.keys import Keys
from zonegate.testing.node_procs import NodeProc, Proc, start_backend, start_node, stop

Eventually = Callable[..., Awaitable[None]]
LIMIT = 20


def config(cluster: str, backend: str) -> dict[str, Any]:
    limit = {
        "name": "global",
        "algorithm": "sliding_window",
        "requests": LIMIT,
        "window_s": 60,
        "key": ["route"],
        "scope": "cluster",
    }
    return {
        "version": 1,
        "cluster": cluster,
        "clusters": [{"name": "app", "endpoints": [{"address": backend, "zone": "zone-a"}]}],
        "routes": [{"name": "api", "upstream": "app", "policies": {"rate_limits": [limit]}}],
    }


@pytest.fixture
def procs() -> Iterator[list[Proc]]:
    started: list[Proc] = []
    yield started
    for item in reversed(started):
        stop(item.proc)


async def status(session: aiohttp.ClientSession, node: NodeProc) -> dict[str, Any]:
    async with session.get(node.admin_url + "/status") as resp:
        body: dict[str, Any] = await resp.json()
        return body


async def statuses(session: aiohttp.ClientSession, node: NodeProc, n: int) -> list[int]:
    out = []
    for _ in range(n):
        async with session.get(node.url + "/healthz") as resp:
            out.append(resp.status)
    return out


async def test_nodes_share_a_cluster_limit_and_the_leader_removes_old_windows(
    etcd_cluster: EtcdCluster,
    cluster_name: str,
    etcd: EtcdClient,
    eventually: Eventually,
    procs: list[Proc],
    tmp_path: Path,
) -> None:
    backend = await asyncio.to_thread(start_backend, "b", tmp_path)
    procs.append(backend)
    path = tmp_path / "cluster.yaml"
    path.write_text(yaml.safe_dump(config(cluster_name, backend.address)))
    nodes = [
        await asyncio.to_thread(
            start_node, path, f"n{i}", "zone-a", etcd_cluster.endpoints, tmp_path,
            extra_args=["--drain-grace", "0"],
        )
        for i in range(2)
    ]  # fmt: skip
    procs.extend(nodes)
    async with aiohttp.ClientSession() as session:

        async def shared() -> bool:
            for node in nodes:
                limits = (await status(session, node)).get("global_rate_limits", {})
                if not (limits.get("shared") and limits.get("live_nodes") == 2):
                    return False
            return True

        await eventually(shared, 20, "both nodes share their counts")
        first, second = nodes
        assert await statuses(session, first, 15) == [200] * 15

        async def second_sees_them() -> bool:
            limits = (await status(session, second))["global_rate_limits"]["limits"]
            return any(totals["peers_current"] == 15 for totals in limits.values())

        await eventually(second_sees_them, 5, "the second node learned the first one's count")
        # alone, the second node would admit 15 more; the cluster has 5 left
        answers = await statuses(session, second, 15)
        assert answers == [200] * 5 + [429] * 10, answers

    # the leader (one of the nodes) removes windows long past
    keys = Keys(cluster_name)
    stale = keys.ratelimit("api:global:60000", 60_000, "gone@zone-a")
    await etcd.put(stale, b'{"keys":{}}')

    async def removed() -> bool:
        return await etcd.get(stale) is None

    await eventually(removed, 10, "the stale window key removed by the leader")
    live = await etcd.get_prefix(keys.ratelimit_prefix)
    assert {kv.key.rsplit("/", 1)[1] for kv in live.kvs} == {"n0@zone-a", "n1@zone-a"}
    assert await etcd.get(keys.summary) is not None  # the leader publishes the summary

    for node in nodes:
        assert await asyncio.to_thread(stop, node.proc) == 0
