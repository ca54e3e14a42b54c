"""Keep-alive connection pools to upstream hosts."""

from __future__ import annotations

import asyncio
import socket
import ssl
import time

from zonegate.node.errors import ConnectFailed
from zonegate.node.upstream.connection import UpstreamConnection


class ConnectionPool:
    """Idle keep-alive connections per ``host:port``, newest reused first."""

    def __init__(
        self,
        *,
        max_idle_per_host: int = 64,
        idle_timeout_s: float = 60.0,
        ssl_context: ssl.SSLContext | None = None,
        server_hostname: str | None = None,
    ) -> None:
        self._idle: dict[str, list[UpstreamConnection]] = {}
        self.max_idle_per_host = max_idle_per_host
        self.idle_timeout_s = idle_timeout_s
        self.ssl_context = ssl_context
        self.server_hostname = server_hostname
        self.open_connections = 0
        self.connects_total = 0
        self.reuses_total = 0

    def take_idle(self, key: str) -> UpstreamConnection | None:
        """A pooled connection to ``key`` (``host:port``), without awaiting anything."""
        idle = self._idle.get(key)
        while idle:
            conn = idle.pop()
            if not conn.closed and conn.transport is not None and not conn.transport.is_closing():
                conn.reused = True
                self.reuses_total += 1
                return conn
        return None

    async def acquire(self, host: str, port: int, connect_timeout: float) -> UpstreamConnection:
        """A pooled connection, or a new one."""
        return self.take_idle(f"{host}:{port}") or await self.connect(host, port, connect_timeout)

    async def connect(
        self, host: str, port: int, connect_timeout: float, key: str | None = None
    ) -> UpstreamConnection:
        """A new connection; ``key`` (default ``host:port``) names its idle list."""
        return await self._connect(key or f"{host}:{port}", host, port, connect_timeout)

    def release(self, conn: UpstreamConnection) -> None:
        """Return a connection whose exchange completed; closes it when it can't be reused."""
        if conn.closed or not conn.keep_alive:
            conn.close()
            return
        idle = self._idle.setdefault(conn.key, [])
        if len(idle) >= self.max_idle_per_host:
            conn.close()
            return
        conn.last_used = time.monotonic()
        idle.append(conn)

    def sweep(self) -> None:
        """Close connections idle for longer than the idle timeout."""
        cutoff = time.monotonic() - self.idle_timeout_s
        for key, idle in list(self._idle.items()):
            keep = [c for c in idle if c.last_used >= cutoff and not c.closed]
            for conn in idle:
                if conn not in keep:
                    conn.close()
            if keep:
                self._idle[key] = keep
            else:
                del self._idle[key]

    def idle_count(self, key: str | None = None) -> int:
        if key is not None:
            return len(self._idle.get(key, ()))
        return sum(len(v) for v in self._idle.values())

    def close(self) -> None:
        for idle in self._idle.values():
            for conn in idle:
                conn.close()
        self._idle.clear()

    async def _connect(
        self, key: str, host: str, port: int, connect_timeout: float
    ) -> UpstreamConnection:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(connect_timeout):
                _, conn = await loop.create_connection(
                    lambda: UpstreamConnection(loop, key),
                    host,
                    port,
                    ssl=self.ssl_context,
                    server_hostname=(self.server_hostname or host) if self.ssl_context else None,
                )
        except TimeoutError:
            raise ConnectFailed(f"connect to {key} timed out") from None
        except ssl.SSLError as exc:
            raise ConnectFailed(f"TLS handshake with {key} failed: {exc.reason}") from None
        except OSError as exc:
            raise ConnectFailed(f"connect to {key} failed: {exc.strerror or exc}") from None
        assert conn.transport is not None
        sock = conn.transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.connects_total += 1
        self.open_connections += 1
        conn.on_close = self._closed
        return conn

    def _closed(self, conn: UpstreamConnection) -> None:
        self.open_connections -= 1
        idle = self._idle.get(conn.key)
        if idle and conn in idle:
            idle.remove(conn)
