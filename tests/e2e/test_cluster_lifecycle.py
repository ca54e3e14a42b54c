"""Starting and stopping the local cluster: a process that fails to start rolls everything
back; Ctrl-C on a foreground ``zonegate up`` stops it cleanly."""

from __future__ import annotations

import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from tests.e2e.conftest import VENV_BIN, ClusterEnv
from zonegate.cluster.spec import default_cluster_text
from zonegate.cluster.state import read_state

pytestmark = pytest.mark.e2e


def _free_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def _wait(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"not within {timeout}s: {what}"
        time.sleep(0.05)


def test_a_process_that_fails_to_start_rolls_everything_back(
    cluster_env: ClusterEnv, tmp_path: Path
) -> None:
    """glb-2's port is taken while the cluster starts: glb-2 exits, and every process
    already started (etcd, backends, nodes, glb-1) is stopped again."""
    port = _free_port("127.0.0.2")
    data = yaml.safe_load(default_cluster_text())
    data["local"]["glb"]["port"] = port
    data["local"]["dashboard"]["enabled"] = False
    cluster_file = tmp_path / "cluster.yaml"
    cluster_file.write_text(yaml.safe_dump(data))
    up = subprocess.Popen(
        [str(VENV_BIN / "zonegate"), "up", "--detach", "-c", str(cluster_file)],
        env=cluster_env.env,
        cwd=cluster_env.cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    seen_pids: set[int] = set()
    with socket.socket() as thief:
        thief.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)

        def planned() -> bool:
            state = read_state(cluster_env.run_dir)
            if state is not None:
                seen_pids.update(p.pid for p in state.processes if p.pid)
            return state is not None

        _wait(planned, 60, "the supervisor wrote its plan")
        thief.bind(("127.0.0.2", port))  # the ports were checked free; now one is not
        thief.listen()
        deadline = time.monotonic() + 120
        while up.poll() is None and time.monotonic() < deadline:
            planned()  # note every PID the cluster starts
            time.sleep(0.05)
        _, stderr = up.communicate(timeout=10)
        state = read_state(cluster_env.run_dir)
    assert up.returncode == 1
    assert "error: glb-2 exited with code" in stderr, stderr
    assert "glb-2.log" in stderr
    assert "is up" not in stderr
    assert state is None
    assert len(seen_pids) >= 12  # etcd, backends and nodes had started
    cluster_env.assert_clean()
    log = (cluster_env.run_dir / "logs" / "glb-2.log").read_text()
    assert "address already in use" in log.lower()


def test_ctrl_c_stops_a_foreground_cluster(cluster_env: ClusterEnv, tmp_path: Path) -> None:
    """A small cluster (one zone, no etcd): Ctrl-C drains and stops it, nothing left."""
    cluster_file = tmp_path / "small.yaml"
    cluster_file.write_text(
        yaml.safe_dump(
            {
                "local": {
                    "zones": [{"name": "z1", "region": "r1", "addresses": "127.0.9.0/24"}],
                    "nodes": {"per_zone": 1},
                    "glb": {"replicas": 0},
                    "etcd": {"enabled": False},
                    "backends": [{"service": "catalog"}],
                    "dashboard": {"enabled": False},
                },
                "gateway": {
                    "version": 1,
                    "clusters": [{"name": "catalog", "service": "catalog"}],
                    "routes": [{"name": "catalog", "upstream": "catalog"}],
                },
            }
        )
    )
    up = subprocess.Popen(
        [str(VENV_BIN / "zonegate"), "up", "-c", str(cluster_file)],
        env=cluster_env.env,
        cwd=cluster_env.cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )

    def running() -> bool:
        state = read_state(cluster_env.run_dir)
        return state is not None and state.status == "running"

    _wait(running, 60, "the cluster is up")
    ps = cluster_env.zonegate("ctl", "ps", "--json")
    assert ps.returncode == 0 and '"z1-1"' in ps.stdout
    up.send_signal(signal.SIGINT)
    _, stderr = up.communicate(timeout=60)
    assert up.returncode == 0, stderr
    assert "cluster stopped" in stderr
    cluster_env.assert_clean()
    assert cluster_env.zonegate("down").returncode == 0  # nothing to stop: still fine
