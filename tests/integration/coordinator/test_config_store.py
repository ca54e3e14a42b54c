"""Config distribution on a real etcd: apply, conflicts, history, rollback, watchers."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from zonegate.cli.main import main
from zonegate.config.loader import parse_config
from zonegate.config.model import ClusterConfig
from zonegate.coordinator.client import EtcdClient
from zonegate.coordinator.config_store import ConfigStore
from zonegate.coordinator.config_watcher import ConfigWatcher
from zonegate.coordinator.errors import ConfigConflictError, RevisionNotFoundError
from zonegate.coordinator.etcd_server import EtcdCluster
from zonegate.coordinator.keys import Keys
from zonegate.coordinator.metrics import CoordinatorMetrics
from zonegate.testing.ports import free_port


def config(cluster: str, zone: str = "z1") -> ClusterConfig:
    return parse_config({"version": 1, "cluster": cluster, "node": {"zone": zone}})


async def test_apply_conflict_history_rollback(etcd: EtcdClient, cluster_name: str) -> None:
    store = ConfigStore(etcd, Keys(cluster_name), keep=3)
    assert await store.current() is None
    first, changed = await store.apply(config(cluster_name), applied_by="alice")
    assert changed and first.revision > 0
    same, changed = await store.apply(config(cluster_name))
    assert not changed and same.revision == first.revision

    second, _ = await store.apply(config(cluster_name, "z2"), applied_by="bob", message="z2")
    with pytest.raises(ConfigConflictError) as conflict:
        await store.apply(config(cluster_name, "z3"), expect_revision=first.revision)
    text = str(conflict.value)
    assert f"now at revision {second.revision}, applied by bob" in text
    assert f"--expect-revision {second.revision}" in text
    stored = await store.current()
    assert stored is not None and stored.document["node"]["zone"] == "z2"

    for zone in ("z3", "z4", "z5"):
        now = await store.current()
        assert now is not None
        await store.apply(config(cluster_name, zone), expect_revision=now.revision)
    history = await store.history()
    assert [h.document["node"]["zone"] for h in history] == ["z5", "z4", "z3"]
    assert len((await etcd.get_prefix(Keys(cluster_name).config_history_prefix)).kvs) == 3

    with pytest.raises(RevisionNotFoundError, match="kept revisions"):
        await store.rollback(first.revision)
    target = history[2]
    rolled, changed = await store.rollback(target.revision)
    assert changed and rolled.revision > history[0].revision
    current = await store.current()
    assert current is not None and current.document == target.document
    assert current.message == f"rollback to revision {target.revision}"


async def test_apply_refuses_another_clusters_config(etcd: EtcdClient, cluster_name: str) -> None:
    with pytest.raises(ValueError, match="is for cluster"):
        await ConfigStore(etcd, Keys(cluster_name)).apply(config("someone-else"))


async def test_watcher_takes_good_configs_and_refuses_bad_ones(
    etcd: EtcdClient, cluster_name: str, metrics: CoordinatorMetrics
) -> None:
    keys = Keys(cluster_name)
    seen: list[tuple[str, int]] = []
    local = config(cluster_name, "from-file")
    watcher = ConfigWatcher(
        etcd, keys, lambda c, rev: seen.append((c.node.zone, rev)), initial=local
    )
    watcher.start()
    store = ConfigStore(etcd, keys)
    good, _ = await store.apply(config(cluster_name, "z1"))
    assert await watcher.wait_for_revision(good.revision, 5)
    assert seen == [("z1", good.revision)]

    bad_revision = await etcd.put(keys.config, json.dumps({"version": 1, "nope": True}))
    assert await watcher.wait_for_rejection(bad_revision, 5)
    assert watcher.config is not None and watcher.config.node.zone == "z1"
    assert watcher.revision == good.revision
    assert "nope: unknown field" in watcher.last_problems

    alien = await etcd.put(keys.config, json.dumps({"version": 1, "cluster": "other"}))
    assert await watcher.wait_for_rejection(alien, 5)
    not_json = await etcd.put(keys.config, b"{")
    assert await watcher.wait_for_rejection(not_json, 5)
    assert metrics.config_rejected._value.get() == 3

    fixed, _ = await store.apply(config(cluster_name, "z2"))
    assert await watcher.wait_for_revision(fixed.revision, 5)
    assert seen[-1] == ("z2", fixed.revision)
    assert metrics.config_updates._value.get() == 2
    await watcher.stop()


async def test_node_starts_from_file_while_etcd_is_down_and_catches_up(
    etcd_factory: Callable[..., EtcdCluster], cluster_name: str, metrics: CoordinatorMetrics
) -> None:
    cluster = etcd_factory(1)
    keys = Keys(cluster_name)
    async with EtcdClient(cluster.endpoints, metrics=metrics) as admin:
        stored, _ = await ConfigStore(admin, keys).apply(config(cluster_name, "from-etcd"))
    cluster.stop_member(0)
    async with EtcdClient(cluster.endpoints, timeout=0.5, metrics=metrics) as client:
        watcher = ConfigWatcher(
            client, keys, lambda c, r: None, initial=config(cluster_name, "file")
        )
        watcher.start()
        await asyncio.sleep(0.5)  # etcd down: still the local file
        assert watcher.config is not None and watcher.config.node.zone == "file"
        await asyncio.to_thread(cluster.restart_member, 0)
        assert await watcher.wait_for_revision(stored.revision, 5)
        assert watcher.config.node.zone == "from-etcd"
        await watcher.stop()


def write_config(tmp_path: Path, cluster: str, zone: str) -> str:
    path = tmp_path / f"{zone}.yaml"
    path.write_text(f"version: 1\ncluster: {cluster}\nnode:\n  zone: {zone}\n")
    return str(path)


def test_cli_apply_show_history_rollback(
    etcd_cluster: EtcdCluster, cluster_name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    etcd = ["--etcd", ",".join(etcd_cluster.endpoints)]
    assert main(["config", "apply", write_config(tmp_path, cluster_name, "a"), *etcd]) == 0
    first = int(capsys.readouterr().out.split("revision ")[1])
    assert main(["config", "apply", write_config(tmp_path, cluster_name, "b"), *etcd,
                 "--expect-revision", str(first)]) == 0  # fmt: skip
    second = int(capsys.readouterr().out.split("revision ")[1])

    assert main(["config", "apply", write_config(tmp_path, cluster_name, "c"), *etcd,
                 "--expect-revision", str(first)]) == 1  # fmt: skip
    err = capsys.readouterr().err
    assert f"now at revision {second}" in err and "Traceback" not in err

    assert main(["config", "show", "--cluster", cluster_name, "--json", *etcd]) == 0
    assert json.loads(capsys.readouterr().out)["node"]["zone"] == "b"
    assert main(["config", "history", "--cluster", cluster_name, "--json", *etcd]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["revision"] for r in rows] == [second, first] and rows[0]["current"]

    assert main(["config", "rollback", str(first), "--cluster", cluster_name, *etcd]) == 0
    assert "now revision" in capsys.readouterr().out
    assert main(["config", "show", "--cluster", cluster_name, *etcd]) == 0
    assert "zone: a" in capsys.readouterr().out


def test_cli_bad_file_and_unreachable_etcd(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nwhat: 1\n")
    assert main(["config", "apply", str(bad)]) == 1
    assert "what: unknown field" in capsys.readouterr().err
    dead = f"127.0.0.1:{free_port()}"
    good = write_config(tmp_path, "zonegate", "a")
    assert main(["config", "apply", good, "--etcd", dead]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: cannot reach etcd at {dead}")
    assert "Traceback" not in err
    assert main(["config", "history", "--etcd", "nonsense"]) == 2
    assert "invalid etcd endpoint" in capsys.readouterr().err


async def test_fail_static_while_etcd_is_stopped_then_converges(
    etcd_factory: Callable[..., EtcdCluster], cluster_name: str, metrics: CoordinatorMetrics
) -> None:
    cluster = etcd_factory(1)
    keys = Keys(cluster_name)
    async with (
        EtcdClient(cluster.endpoints, timeout=0.5, probe_interval=0.2, metrics=metrics) as node,
        EtcdClient(cluster.endpoints, metrics=metrics) as admin,
    ):
        watcher = ConfigWatcher(node, keys, lambda c, r: None)
        watcher.start()
        first, _ = await ConfigStore(admin, keys).apply(config(cluster_name, "one"))
        assert await watcher.wait_for_revision(first.revision, 5)
        cluster.stop_member(0)
        await asyncio.sleep(1.0)  # etcd fully down: the node keeps its config
        assert watcher.config is not None and watcher.config.node.zone == "one"
        assert not node.reachable
        await asyncio.to_thread(cluster.restart_member, 0)
        back = asyncio.get_running_loop().time()
        second, _ = await ConfigStore(admin, keys).apply(config(cluster_name, "two"))
        assert await watcher.wait_for_revision(second.revision, 5)
        assert asyncio.get_running_loop().time() - back < 2.0
        assert watcher.config.node.zone == "two"
        await watcher.stop()
