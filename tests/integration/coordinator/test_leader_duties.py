"""The leader publishes the summary and cleans stale keys; `zonegate status` shows it all."""

from __future__ import annotations

import json

import pytest

from zonegate.cli.main import main
from zonegate.config.loader import parse_config
from zonegate.coordinator.client import EtcdClient
from zonegate.coordinator.config_store import ConfigStore
from zonegate.coordinator.election import Election
from zonegate.coordinator.errors import NotLeaderError
from zonegate.coordinator.etcd_server import EtcdCluster
from zonegate.coordinator.keys import Keys
from zonegate.coordinator.leader_duties import LeaderDuties
from zonegate.coordinator.records import NodeInfo, ServiceEndpoint
from zonegate.coordinator.registry import NodeRegistration, ServiceRegistration
from zonegate.testing.ports import free_port


async def test_duties_publish_summary_and_remove_stale_keys(
    etcd: EtcdClient, cluster_name: str
) -> None:
    keys = Keys(cluster_name)
    stored, _ = await ConfigStore(etcd, keys).apply(
        parse_config({"version": 1, "cluster": cluster_name})
    )
    regs = [
        NodeRegistration(etcd, keys, NodeInfo("n1", "a", "h:1", config_revision=stored.revision)),
        NodeRegistration(etcd, keys, NodeInfo("n2", "b", "h:2", config_revision=1)),
    ]
    for reg in regs:
        reg.start()
        assert await reg.wait_registered(5)
    svc = ServiceRegistration(etcd, keys, ServiceEndpoint("api", "a", "i1", "h:9"))
    svc.start()
    assert await svc.wait_registered(5)
    await etcd.put(keys.ratelimit("api", 1000, "n1"), "5")  # a window from 1970
    await etcd.put(keys.event(1000), "old drill")

    election = Election(etcd, keys, "n1", ttl=2)
    election.start()
    duties = LeaderDuties(election, interval=0.1)
    assert await election.wait_until_leader(5)
    await duties.run_once()
    published = await etcd.get(keys.summary)
    assert published is not None
    summary = json.loads(published.value)
    assert summary["leader"] == "n1" and summary["fencing_token"] == election.fencing_token
    assert summary["zones"]["a"]["converged"] and not summary["zones"]["b"]["converged"]
    assert summary["services"] == {"api": {"a": 1}}
    assert await etcd.get(keys.ratelimit("api", 1000, "n1")) is None
    assert await etcd.get(keys.event(1000)) is None

    await election.resign()
    with pytest.raises(NotLeaderError):
        await duties.publish_summary()
    for reg in regs:
        await reg.stop()
    await svc.stop()


def test_status_command(
    etcd_cluster: EtcdCluster, cluster_name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    etcd = ["--etcd", etcd_cluster.endpoints[0], "--cluster", cluster_name]
    assert main(["status", "--json", *etcd]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["cluster"] == cluster_name
    assert status["leader"] == "" and status["nodes"] == 0
    assert len(status["etcd_members"]) == 1 and status["etcd_members"][0]["leader"]
    assert main(["status", *etcd]) == 0
    out = capsys.readouterr().out
    assert "zones" in out and "etcd members" in out


def test_status_unreachable(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["status", "--etcd", f"127.0.0.1:{free_port()}"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: cannot reach etcd") and "Traceback" not in err
