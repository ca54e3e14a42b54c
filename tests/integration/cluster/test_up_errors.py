"""``zonegate up`` refusing to start: one clear message, exit 1, nothing left running."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from zonegate.cluster.spec import default_cluster_text

ZONEGATE = str(Path(sys.executable).parent / "zonegate")
SMALL: dict[str, dict[str, Any]] = {
    "local": {
        "zones": [{"name": "z1", "region": "r1", "addresses": "127.0.31.0/24"}],
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


def up(
    tmp_path: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [ZONEGATE, "up", "--detach", "--run-dir", str(tmp_path / "run"), *args],
        capture_output=True,
        text=True,
        timeout=90,
        env={**os.environ, **(env or {})},
        check=False,
    )


def write(tmp_path: Path, data: object) -> str:
    path = tmp_path / "cluster.yaml"
    path.write_text(yaml.safe_dump(data))
    return str(path)


def assert_nothing_started(tmp_path: Path) -> None:
    run = tmp_path / "run"
    assert not (run / "state.json").exists()
    assert not (run / "etcd").exists()
    assert not list((run / "logs").glob("*.log")) if (run / "logs").exists() else True


def test_bad_cluster_file_lists_every_problem(tmp_path: Path) -> None:
    data = yaml.safe_load(default_cluster_text())
    data["local"]["zones"][0]["addresses"] = "10.1.0.0/24"
    data["gateway"]["routes"][0]["upstream"] = "catalogue"
    result = up(tmp_path, "-c", write(tmp_path, data))
    assert result.returncode == 1
    assert "is not valid" in result.stderr
    assert "local.zones[0].addresses" in result.stderr
    assert "gateway.routes[0].upstream: unknown cluster 'catalogue'" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "run").exists()


def test_missing_etcd_binary(tmp_path: Path) -> None:
    result = up(tmp_path, env={"ZONEGATE_ETCD": str(tmp_path / "no-etcd")})
    assert result.returncode == 1
    assert "error: cannot start etcd:" in result.stderr and "no-etcd" in result.stderr
    assert "Traceback" not in result.stderr
    assert_nothing_started(tmp_path)


def test_port_in_use(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.31.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        data = {**SMALL, "local": {**SMALL["local"], "nodes": {"per_zone": 1, "port": port}}}
        result = up(tmp_path, "-c", write(tmp_path, data))
    assert result.returncode == 1
    assert f"error: port {port} on 127.0.31.1 is already in use" in result.stderr
    assert "Traceback" not in result.stderr
    assert_nothing_started(tmp_path)


@pytest.mark.timeout(120)
def test_second_up_is_refused_and_down_stops_the_first(tmp_path: Path) -> None:
    cluster_file = write(tmp_path, SMALL)
    first = up(tmp_path, "-c", cluster_file)
    try:
        assert first.returncode == 0, first.stderr
        second = up(tmp_path, "-c", cluster_file)
        assert second.returncode == 1
        assert "already running" in second.stderr and "zonegate down" in second.stderr
    finally:
        down = subprocess.run(
            [ZONEGATE, "down", "--run-dir", str(tmp_path / "run")],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert down.returncode == 0, down.stderr
    assert "cluster stopped" in down.stderr
    assert not (tmp_path / "run" / "state.json").exists()
