"""Free loopback ports for tests and the local cluster."""

from __future__ import annotations

import random
import socket
import subprocess
import time
from pathlib import Path

_LOWEST = 10_000


def _ephemeral_low() -> int:
    """The lowest port the kernel hands out for outgoing connections."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 0


def free_port(host: str = "127.0.0.1") -> int:
    """A port that was free a moment ago, below the kernel's ephemeral range.

    Outside that range no outgoing connection can take the port as its local
    port, so a server stopped and restarted on it (an etcd member in a drill)
    finds it still free.
    """
    high = _ephemeral_low() - 1
    candidates = random.sample(range(_LOWEST, high), 50) if high > _LOWEST + 1000 else []
    for port in [*candidates, 0]:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind((host, port))
            except OSError:
                continue
            found: int = sock.getsockname()[1]
            return found
    raise OSError(f"no free port on {host}")


def wait_port(
    port: int,
    proc: subprocess.Popen[bytes] | None = None,
    timeout: float = 15.0,
    host: str = "127.0.0.1",
) -> None:
    """Wait until something accepts connections on ``host:port`` (or ``proc`` exits)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before listening")
        try:
            with socket.create_connection((host, port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listening on {host}:{port} after {timeout}s")
