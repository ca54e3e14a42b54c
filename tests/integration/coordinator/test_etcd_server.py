"""Real etcd clusters start, elect, survive chaos and clean up after themselves."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from zonegate.coordinator.errors import EtcdBinaryNotFoundError
from zonegate.coordinator.etcd_server import EtcdCluster, find_etcd_binary


def test_binary_from_env_must_be_executable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    not_exec = tmp_path / "etcd"
    not_exec.write_text("")
    monkeypatch.setenv("ZONEGATE_ETCD", str(not_exec))
    with pytest.raises(EtcdBinaryNotFoundError, match="ZONEGATE_ETCD"):
        find_etcd_binary()
    monkeypatch.delenv("ZONEGATE_ETCD")
    assert os.access(find_etcd_binary(), os.X_OK)


def test_single_member_is_healthy_and_leader(etcd_cluster: EtcdCluster) -> None:
    assert len(etcd_cluster.endpoints) == 1
    assert etcd_cluster.endpoints[0].startswith("127.0.0.1:")
    assert etcd_cluster.members[0].healthy()
    assert etcd_cluster.leader_index() == 0


def test_stop_removes_data_and_processes(etcd_factory: Callable[..., EtcdCluster]) -> None:
    cluster = etcd_factory(1)
    member = cluster.members[0]
    assert member.data_dir.is_dir()
    cluster.stop()
    assert not member.running()
    assert not cluster.base_dir.exists()


def test_three_members_kill_pause_restart(etcd_factory: Callable[..., EtcdCluster]) -> None:
    cluster = etcd_factory(3)
    leader = cluster.leader_index()
    cluster.kill_member(leader)
    assert not cluster.members[leader].running()
    new_leader = cluster.leader_index()
    assert new_leader != leader
    cluster.restart_member(leader)
    assert cluster.members[leader].healthy()

    follower = next(i for i in range(3) if i != cluster.leader_index())
    cluster.pause_member(follower)
    assert not cluster.members[follower].healthy(timeout=0.3)
    cluster.resume_member(follower)
    cluster.wait_healthy(10)


def test_stop_a_paused_member(etcd_factory: Callable[..., EtcdCluster]) -> None:
    cluster = etcd_factory(1)
    member = cluster.members[0]
    assert member.process is not None
    member.pause()  # a stopped process handles SIGTERM only once resumed
    started = time.monotonic()
    member.stop(timeout=2)
    assert member.process.returncode in (0, -signal.SIGTERM, -signal.SIGKILL)
    assert time.monotonic() - started < 3


def test_stopping_three_members_is_quick(etcd_factory: Callable[..., EtcdCluster]) -> None:
    cluster = etcd_factory(3)
    started = time.monotonic()
    cluster.stop()
    assert time.monotonic() - started < 2
    assert not any(m.running() for m in cluster.members)


def test_members_on_their_own_loopback_addresses(
    etcd_factory: Callable[..., EtcdCluster],
) -> None:
    hosts = ["127.0.1.1", "127.0.1.2", "127.0.1.3"]
    cluster = etcd_factory(3, hosts=hosts, names=["eu", "us", "ap"])
    assert [e.split(":")[0] for e in cluster.endpoints] == hosts
    assert cluster.index_of("us") == 1
    with pytest.raises(ValueError, match="members: eu, us, ap"):
        cluster.index_of("mars")
    assert cluster.members[cluster.leader_index()].healthy()
