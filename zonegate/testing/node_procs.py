"""Real gateway node processes (``zonegate node --etcd``) and a demo backend process.

For integration tests and benchmarks: each process gets free loopback ports,
logs to a file, and is stopped by its PID (SIGTERM, then SIGKILL).
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from zonegate import conventions as cv
from zonegate.testing.ports import free_port, wait_port

CLI = [sys.executable, "-m", "zonegate.cli.main"]
SYNCS_OK = f'{cv.GLOBAL_RATELIMIT_SYNCS_TOTAL}{{{cv.LABEL_OUTCOME}="ok"}}'


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


async def admin_state(session: aiohttp.ClientSession, node: NodeProc) -> dict[str, Any]:
    """A node's config revision and source, etcd and global rate-limit status, and how
    many rate-limit syncs it wrote (from its admin /status, /config and /metrics)."""
    async with session.get(node.admin_url + "/status") as resp:
        status = await resp.json()
    async with session.get(node.admin_url + "/config") as resp:
        config = await resp.json()
    async with session.get(node.admin_url + "/metrics") as resp:
        lines = (await resp.text()).splitlines()
    syncs = next((float(x.split()[-1]) for x in lines if x.startswith(SYNCS_OK)), 0.0)
    limits = status.get("global_rate_limits", {})
    etcd = status.get("etcd", {})
    return {
        "revision": config["revision"],
        "source": config["source"],
        "syncs": syncs,
        "shared": bool(limits.get("shared")),
        "live_nodes": limits.get("live_nodes"),
        "reachable": etcd.get("reachable"),
        "registered": etcd.get("registered"),
    }


async def admin_states(
    session: aiohttp.ClientSession, nodes: Sequence[NodeProc]
) -> list[dict[str, Any]]:
    return [await admin_state(session, node) for node in nodes]


async def poll_until(
    check: Callable[[], Awaitable[bool]], timeout: float, what: str, every: float = 0.05
) -> float:
    """Poll ``check`` until true; returns the seconds it took (RuntimeError after
    ``timeout``)."""
    started = time.monotonic()
    while not await check():
        if time.monotonic() - started > timeout:
            raise RuntimeError(f"not within {timeout} s: {what}")
        await asyncio.sleep(every)
    return time.monotonic() - started
