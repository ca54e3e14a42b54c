"""Real gateway node processes (``zonegate node --etcd``) and a demo backend process.

For integration tests and benchmarks: each process gets free loopback ports,
logs to a file, and is stopped by its PID (SIGTERM, then SIGKILL).
"""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from zonegate.testing.ports import free_port, wait_port

CLI = [sys.executable, "-m", "zonegate.cli.main"]


@dataclass
class Proc:
    name: str
    port: int
    proc: subprocess.Popen[bytes]
    log: Path

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


@dataclass
class NodeProc(Proc):
    zone: str = ""
    admin_port: int = 0

    @property
    def admin_url(self) -> str:
        return f"http://127.0.0.1:{self.admin_port}"


def _spawn(command: list[str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)


def start_node(
    config: Path,
    node_id: str,
    zone: str,
    etcd: Sequence[str],
    log_dir: Path,
    *,
    lease_ttl: int = 3,
    extra_args: Sequence[str] = (),
    timeout: float = 60.0,
) -> NodeProc:
    """Start ``zonegate node`` and wait until its admin port accepts connections."""
    port, admin = free_port(), free_port()
    command = [
        *CLI, "node", "-c", str(config), "--id", node_id, "--zone", zone,
        "--listen", f"127.0.0.1:{port}", "--admin", f"127.0.0.1:{admin}",
        "--lease-ttl", str(lease_ttl), "--etcd", ",".join(etcd), *extra_args,
    ]  # fmt: skip
    log = log_dir / f"node-{zone}-{node_id}.log"
    proc = _spawn(command, log)
    try:
        wait_port(admin, proc, timeout)
        wait_port(port, proc, timeout)
    except BaseException:
        stop(proc)
        raise
    return NodeProc(node_id, port, proc, log, zone=zone, admin_port=admin)


def start_backend(name: str, log_dir: Path, *, timeout: float = 30.0) -> Proc:
    """A demo catalog backend (``GET /healthz`` answers 200) on a free port."""
    port = free_port()
    command = [*CLI, "demo-backend", "--service", "catalog", "--listen", f"127.0.0.1:{port}"]
    proc = _spawn(command, log_dir / f"backend-{name}.log")
    try:
        wait_port(port, proc, timeout)
    except BaseException:
        stop(proc)
        raise
    return Proc(name, port, proc, log_dir / f"backend-{name}.log")


def stop(proc: subprocess.Popen[bytes], timeout: float = 15.0) -> int:
    """SIGTERM (a node drains), SIGKILL after ``timeout``; returns the exit code."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            return proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
    return proc.wait()
