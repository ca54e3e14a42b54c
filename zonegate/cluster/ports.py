"""Ports for the local cluster: free ones picked at start, fixed ones checked for conflicts."""

from __future__ import annotations

import errno
import socket

from zonegate.cluster.errors import PortConflictError


def _bind(host: str, port: int) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        bound: int = sock.getsockname()[1]
        return bound


class PortPicker:
    """``pick(host, 0)`` -> a free port on ``host``; ``pick(host, 8080)`` -> 8080 if free.

    Ports handed out are remembered so two processes never get the same one.
    """

    def __init__(self) -> None:
        self.taken: set[tuple[str, int]] = set()

    def __call__(self, host: str, wanted: int) -> int:
        if wanted:
            if (host, wanted) in self.taken:
                raise PortConflictError(f"{host}:{wanted} is configured for two processes")
            try:
                _bind(host, wanted)
            except OSError as exc:
                raise PortConflictError(_conflict_message(host, wanted, exc)) from None
            self.taken.add((host, wanted))
            return wanted
        for _ in range(20):
            try:
                port = _bind(host, 0)
            except OSError as exc:
                raise PortConflictError(
                    f"cannot listen on {host}: {exc.strerror or exc} "
                    "(is the loopback interface up?)"
                ) from None
            if (host, port) not in self.taken:
                self.taken.add((host, port))
                return port
        raise PortConflictError(f"no free port on {host}")  # pragma: no cover


def _conflict_message(host: str, port: int, exc: OSError) -> str:
    if exc.errno == errno.EADDRINUSE:
        return (
            f"port {port} on {host} is already in use; stop what listens there "
            f"(ss -ltnp 'sport = :{port}') or set the port to 0 (a free one) in the cluster file"
        )
    if exc.errno == errno.EACCES:
        return f"port {port} on {host} needs privileges; use a port above 1023 or 0"
    return f"cannot listen on {host}:{port}: {exc.strerror or exc}"
