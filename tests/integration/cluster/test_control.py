"""The ``zonegate ctl`` operations through the Python API, on a small real cluster:
three zones with one node, one catalog backend and one etcd member each."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pytest
import yaml

from zonegate.cluster import api
from zonegate.cluster.control import ClusterControl
from zonegate.cluster.errors import ClusterError, UnknownTargetError

ZONES = [
    {"name": "z1", "region": "r1", "addresses": "127.0.21.0/24"},
    {"name": "z2", "region": "r1", "addresses": "127.0.22.0/24"},
    {"name": "z3", "region": "r2", "addresses": "127.0.23.0/24"},
]


def _status(url: str, timeout: float = 2.0) -> int:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[ClusterControl]:
    base = tmp_path
    cluster_file = base / "cluster.yaml"
    cluster_file.write_text(
        yaml.safe_dump(
            {
                "local": {
                    "zones": ZONES,
                    "nodes": {"per_zone": 1},
                    "glb": {"replicas": 0},
                    "backends": [{"service": "catalog"}],
                    "dashboard": {"enabled": False},
                    "stop_timeout_s": 5,
                },
                "gateway": {
                    "version": 1,
                    "cluster": "ctltest",
                    "clusters": [{"name": "catalog", "service": "catalog"}],
                    "routes": [{"name": "catalog", "upstream": "catalog"}],
                },
            }
        )
    )
    run_dir = base / "run"
    control = api.up(cluster_file, run_dir)
    pids = [p.pid for p in control.processes() if p.pid]
    try:
        yield control
    finally:
        assert api.down(run_dir)
        assert not [pid for pid in pids if psutil.pid_exists(pid)]
        assert not (run_dir / "etcd").exists() and not (run_dir / "state.json").exists()


def _eventually(check: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"not within {timeout}s: {what}"
        time.sleep(0.1)


def _state(cluster: ClusterControl, name: str) -> tuple[str, bool | None]:
    info = cluster.process(name)
    return info.state, info.healthy


def _serving(cluster: ClusterControl, name: str) -> Callable[[], int]:
    url = cluster.url(name) + "/catalog/items/1"
    return lambda: _status(url)


def check_process_verbs(cluster: ClusterControl) -> None:
    assert cluster.entry_points() == [cluster.url(f"z{i}-1") for i in (1, 2, 3)]
    assert cluster.names("z2") == ["etcd-z2", "catalog-z2", "z2-1"]

    old_pid = cluster.process("z2-1").pid
    assert cluster.kill("z2-1") == ["z2-1"]
    assert _state(cluster, "z2-1") == ("killed", False)
    assert old_pid is not None and not psutil.pid_exists(old_pid)
    assert cluster.start("z2-1") == ["z2-1"]
    assert _state(cluster, "z2-1") == ("running", True)
    assert _serving(cluster, "z2-1")() == 200

    assert cluster.pause("z1-1") == ["z1-1"]
    assert psutil.Process(cluster.process("z1-1").pid).status() == psutil.STATUS_STOPPED
    with pytest.raises((TimeoutError, urllib.error.URLError)):
        urllib.request.urlopen(cluster.url("z1-1") + "/catalog/items/1", timeout=0.5)
    assert cluster.resume("z1-1") == ["z1-1"]
    assert _serving(cluster, "z1-1")() == 200

    assert cluster.drain("z3") == ["z3-1"]  # a zone drain touches its nodes only
    assert [p.state for p in cluster.processes() if p.zone == "z3"] == [
        "running",
        "running",
        "stopped",
    ]
    assert cluster.start("z3") == ["z3-1"]  # only what is down
    assert cluster.restart("catalog-z1") == ["catalog-z1"]
    assert _state(cluster, "catalog-z1") == ("running", True)


def check_backend_faults(cluster: ClusterControl) -> None:
    backend = cluster.url("catalog-z1") + "/catalog/items/1"
    assert cluster.set_fault("z1/catalog", error_rate=1.0) == ["catalog-z1"]
    assert _status(backend) == 503
    assert cluster.clear_fault("catalog") == ["catalog-z1", "catalog-z2", "catalog-z3"]
    assert _status(backend) == 200
    with pytest.raises(ClusterError, match="has no demo backend"):
        cluster.set_fault("z1-1", error_rate=1.0)


def check_etcd_verbs(cluster: ClusterControl) -> None:
    leader = cluster.etcd_leader()
    assert cluster.etcd_kill_leader() == leader
    assert cluster.etcd_leader() != leader  # the two others elected a new one
    assert cluster.etcd_start() == [leader]  # rejoins on its data dir
    _eventually(
        lambda: all(p.healthy for p in cluster.processes() if p.kind == "etcd"),
        "every etcd member healthy again (the supervisor re-checks every second)",
    )

    stopped = cluster.etcd_stop()  # an etcd outage
    assert sorted(stopped) == ["etcd-z1", "etcd-z2", "etcd-z3"]
    assert _serving(cluster, "z1-1")() == 200  # nodes keep serving (fail-static)
    assert sorted(cluster.etcd_start()) == sorted(stopped)
    assert cluster.etcd_stop("z2") == ["etcd-z2"]
    assert cluster.etcd_start("etcd-z2") == ["etcd-z2"]


def check_bad_targets(cluster: ClusterControl) -> None:
    with pytest.raises(UnknownTargetError, match="did you mean 'z1-1'"):
        cluster.kill("z1-2")
    with pytest.raises(UnknownTargetError):
        cluster.etcd_stop("nowhere")
    with pytest.raises(ClusterError, match="unknown verb"):
        cluster._ctl("explode", "z1")


def check_state_files(cluster: ClusterControl) -> None:
    run_dir = Path(cluster.run_dir)
    assert (run_dir / "state.json").stat().st_mode & 0o777 == 0o600
    logs = sorted(p.name for p in (run_dir / "logs").glob("*.log"))
    assert logs == sorted(f"{p.name}.log" for p in cluster.processes())


def test_ctl_verbs_on_a_running_cluster(cluster: ClusterControl) -> None:
    """One cluster for every check (a module fixture would start one per xdist worker)."""
    check_process_verbs(cluster)
    check_backend_faults(cluster)
    check_etcd_verbs(cluster)
    check_bad_targets(cluster)
    check_state_files(cluster)
