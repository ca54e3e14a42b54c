"""A node's etcd side: register, follow the config, report its revision, lead, drain."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

from zonegate.config.loader import parse_config
from zonegate.config.model import ClusterConfig
from zonegate.coordinator.client import EtcdClient
from zonegate.coordinator.config_store import ConfigStore
from zonegate.coordinator.discovery import node_watcher
from zonegate.coordinator.keys import Keys
from zonegate.coordinator.node_agent import NodeAgent
from zonegate.coordinator.records import NodeInfo


async def test_three_nodes_converge_lead_and_drain(
    etcd: EtcdClient, cluster_name: str, eventually: Callable[..., Awaitable[None]]
) -> None:
    keys = Keys(cluster_name)
    running: dict[str, int] = {}

    def agent(node_id: str, zone: str) -> NodeAgent:
        def on_config(config: ClusterConfig, revision: int) -> None:
            running[node_id] = revision

        return NodeAgent(
            etcd, keys, NodeInfo(node_id, zone, "127.0.0.1:0"), on_config,
            ttl=1, duties_interval=0.1,
        )  # fmt: skip

    agents = [agent("n1", "a"), agent("n2", "b"), agent("n3", "c")]
    nodes = node_watcher(etcd, keys)
    nodes.start()
    for a in agents:
        a.start()
    stored, _ = await ConfigStore(etcd, keys).apply(
        parse_config({"version": 1, "cluster": cluster_name})
    )
    converged = await nodes.wait_until(
        lambda n: len(n) == 3 and all(i.config_revision == stored.revision for i in n.values()),
        5,
    )
    assert sorted(converged) == ["a/n1", "b/n2", "c/n3"]
    assert running == {"n1": stored.revision, "n2": stored.revision, "n3": stored.revision}

    first = agents[0].election
    assert first is not None
    info = await first.wait_for_leader(5)
    assert info is not None
    leader = next(a for a in agents if a.election and a.election.name == info.name)

    async def summary_converged() -> bool:
        kv = await etcd.get(keys.summary)
        summary = json.loads(kv.value) if kv else {}
        return bool(summary.get("converged")) and summary.get("nodes") == 3

    await eventually(summary_converged, 5, "the leader published a converged summary")

    await leader.drain()
    await nodes.wait_until(lambda n: len(n) == 2, 2)
    others = [a.election for a in agents if a is not leader and a.election]
    await eventually(lambda: any(e.is_leader for e in others), 3, "another node leads")
    for a in agents:
        await a.stop()
    await nodes.wait_until(lambda n: not n, 2)
    await nodes.stop()
