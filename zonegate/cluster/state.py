"""The run directory and its state file (``state.json``): PIDs, addresses, URLs, health.

The supervisor rewrites the file (atomically) whenever something changes;
``zonegate status``/``ctl``/``logs``/``down`` and the chaos harness read it.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psutil

from zonegate.cluster.errors import NotRunningError

ENV_RUN_DIR = "ZONEGATE_RUN_DIR"
DEFAULT_RUN_DIR = Path(".zonegate") / "run"
STATE_FILE = "state.json"
STATE_VERSION = 1


def default_run_dir() -> Path:
    return Path(os.environ.get(ENV_RUN_DIR) or DEFAULT_RUN_DIR)


@dataclass
class ProcessInfo:
    name: str
    kind: str
    zone: str
    region: str
    state: str
    address: str
    url: str
    log: str
    pid: int | None = None
    healthy: bool | None = None
    admin: str = ""
    service: str = ""
    exit_code: int | None = None
    started_at: float | None = None


@dataclass
class ClusterState:
    cluster: str
    run_dir: str
    supervisor_pid: int
    control_url: str
    token: str
    status: str
    started_at: float
    etcd_endpoints: list[str] = field(default_factory=list)
    processes: list[ProcessInfo] = field(default_factory=list)
    entry_points: list[str] = field(default_factory=list)
    ready_seconds: float | None = None
    phase_seconds: dict[str, float] = field(default_factory=dict)
    version: int = STATE_VERSION

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ClusterState:
        procs = [ProcessInfo(**p) for p in data.get("processes", [])]
        fields = {k: v for k, v in data.items() if k != "processes"}
        return cls(**fields, processes=procs)

    def process(self, name: str) -> ProcessInfo:
        for info in self.processes:
            if info.name == name:
                return info
        raise KeyError(name)

    def supervisor_alive(self) -> bool:
        return pid_alive(self.supervisor_pid)


def pid_alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def state_path(run_dir: Path) -> Path:
    return run_dir / STATE_FILE


def write_state(run_dir: Path, state: ClusterState) -> None:
    """Atomic replace; readable by the owner only (it holds the control token)."""
    path = state_path(run_dir)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(state.to_json())
    os.replace(tmp, path)


def read_state(run_dir: Path | None = None) -> ClusterState | None:
    """The state file of ``run_dir`` (``None`` if there is none or it is unreadable)."""
    path = state_path(run_dir or default_run_dir())
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict) or data.get("version") != STATE_VERSION:
            return None
        return ClusterState.from_dict(data)
    except (OSError, ValueError, TypeError):
        return None


def running_state(run_dir: Path | None = None) -> ClusterState:
    """The state of the cluster running from ``run_dir``; NotRunningError otherwise."""
    run_dir = run_dir or default_run_dir()
    state = read_state(run_dir)
    if state is None or not state.supervisor_alive():
        raise NotRunningError(
            f"no zonegate cluster is running from {run_dir} "
            "(start one with `zonegate up`, or pass --run-dir)"
        )
    return state


def remove_state(run_dir: Path) -> None:
    state_path(run_dir).unlink(missing_ok=True)
