"""Whole-cluster fixtures: a private run dir and TMPDIR per test, and leftover checks.

Every process the cluster starts inherits ``TMPDIR=<marker>``, so the test can find
any process that outlived the cluster (by its environment) and any temp file or dir
one of them left behind (in the marker dir).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

VENV_BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parents[2]


@dataclass
class ClusterEnv:
    run_dir: Path
    marker: Path
    env: dict[str, str]
    cwd: Path

    def zonegate(self, *args: str, timeout: float = 90.0) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(VENV_BIN / "zonegate"), *args],
            env=self.env,
            cwd=self.cwd,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def leftovers(self) -> list[psutil.Process]:
        """Processes still running with this test's marker TMPDIR (started by the cluster)."""
        found = []
        for proc in psutil.process_iter():
            try:
                if proc.environ().get("TMPDIR") == str(self.marker):
                    found.append(proc)
            except (psutil.Error, OSError):
                continue
        return found

    def assert_clean(self) -> None:
        left = self.leftovers()
        assert not left, f"processes left behind: {[(p.pid, p.cmdline()) for p in left]}"
        assert not any(self.marker.iterdir()), f"temp files left: {list(self.marker.iterdir())}"
        assert not (self.run_dir / "state.json").exists()
        assert not (self.run_dir / "etcd").exists()


def make_cluster_env(base: Path) -> ClusterEnv:
    """A private run dir, work dir and marker TMPDIR under ``base``."""
    marker = base / "tmp"
    marker.mkdir()
    work = base / "work"
    work.mkdir()
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("ZONEGATE_ETCD_ENDPOINTS", "ZONEGATE_CLUSTER", "PYTEST_XDIST_WORKER")
    }
    env.update(
        ZONEGATE_RUN_DIR=str(base / "run"),
        TMPDIR=str(marker),
        PATH=f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}",
        PYTHONPATH=str(ROOT),
    )
    return ClusterEnv(base / "run", marker, env, work)


def tear_down(cluster: ClusterEnv) -> None:
    """Stop the cluster if it runs; kill anything it left, even after a failure."""
    if (cluster.run_dir / "state.json").exists():
        cluster.zonegate("down", timeout=120)
    for proc in cluster.leftovers():
        try:
            proc.kill()
        except psutil.Error:
            pass


@pytest.fixture
def cluster_env(tmp_path: Path) -> Iterator[ClusterEnv]:
    cluster = make_cluster_env(tmp_path)
    try:
        yield cluster
    finally:
        tear_down(cluster)
