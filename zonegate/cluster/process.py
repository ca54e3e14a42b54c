"""One supervised OS process: start with its log file, signal, stop with drain.

Children run in their own session (Ctrl-C in the terminal reaches only the
supervisor, which stops them in order) and get SIGKILL from the kernel if the
supervisor dies (``PR_SET_PDEATHSIG``), so no process outlives its cluster.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from zonegate.cluster.plan import ProcessSpec

PENDING = "pending"
STARTING = "starting"
RUNNING = "running"
PAUSED = "paused"
STOPPING = "stopping"
STOPPED = "stopped"
KILLED = "killed"
EXITED = "exited"
FAILED = "failed"
DOWN_STATES = frozenset({PENDING, STOPPED, KILLED, EXITED, FAILED})

_PR_SET_PDEATHSIG = 1
_libc_name = ctypes.util.find_library("c")
_libc = ctypes.CDLL(_libc_name, use_errno=True) if _libc_name else None


def _die_with_parent() -> None:  # runs in the child between fork and exec
    if _libc is not None and sys.platform.startswith("linux"):
        _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def log_tail(path: Path, lines: int = 12) -> str:
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - 16384))
            text = handle.read().decode("utf-8", "replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


class ManagedProcess:
    """A process of the cluster and what the supervisor knows about it."""

    def __init__(self, spec: ProcessSpec, log_dir: Path) -> None:
        self.spec = spec
        self.log_path = log_dir / f"{spec.name}.log"
        self.popen: subprocess.Popen[bytes] | None = None
        self.state = PENDING
        self.healthy: bool | None = None
        self.exit_code: int | None = None
        self.started_at: float | None = None
        self.starts = 0

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def pid(self) -> int | None:
        return self.popen.pid if self.popen is not None else None

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def start(self, env: dict[str, str] | None = None) -> None:
        """Spawn the process (appending to its log); no-op if it is running."""
        if self.alive():
            return
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            stamp = time.strftime("%Y-%m-%d %H:%M:%S")
            log.write(f"--- zonegate: starting {self.name} at {stamp} ---\n".encode())
            log.flush()
            self.popen = subprocess.Popen(
                list(self.spec.argv),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                close_fds=True,
                start_new_session=True,
                preexec_fn=_die_with_parent,  # noqa: PLW1509 (spawned from the loop thread)
                env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
            )
        self.state = STARTING
        self.healthy = None
        self.exit_code = None
        self.started_at = time.time()
        self.starts += 1

    def poll(self) -> int | None:
        """Exit code if the process has ended (and reaped), else ``None``."""
        if self.popen is None:
            return None
        code = self.popen.poll()
        if code is not None:
            self.exit_code = code
        return code

    def send(self, signum: int) -> bool:
        """Signal the process's whole group (a node with workers included)."""
        if self.popen is None or self.popen.poll() is not None:
            return False
        try:
            os.killpg(self.popen.pid, signum)
        except ProcessLookupError:
            return False
        except PermissionError:
            self.popen.send_signal(signum)
        return True

    def kill(self) -> None:
        """SIGKILL and reap."""
        if self.send(signal.SIGKILL) and self.popen is not None:
            self.popen.wait()
        self.poll()
        self.state = KILLED
        self.healthy = False

    def pause(self) -> None:
        if self.send(signal.SIGSTOP):
            self.state = PAUSED

    def resume(self) -> None:
        if self.send(signal.SIGCONT):
            self.state = RUNNING

    async def stop(self, timeout: float) -> bool:
        """SIGTERM (the process drains), SIGKILL after ``timeout``; True if it ended cleanly."""
        if not self.alive():
            if self.state not in DOWN_STATES:
                self.state = STOPPED
            return True
        self.state = STOPPING
        self.send(signal.SIGCONT)
        self.send(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while self.poll() is None:
            if time.monotonic() > deadline:
                self.kill()
                self.state = STOPPED
                return False
            await asyncio.sleep(0.02)
        self.state = STOPPED
        self.healthy = False
        return True

    def tail(self, lines: int = 12) -> str:
        return log_tail(self.log_path, lines)
