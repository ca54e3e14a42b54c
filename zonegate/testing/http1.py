"""A strict HTTP/1.1 test client: one keep-alive connection, and it never retries.

aiohttp quietly repeats an idempotent request when a reused connection turns
out closed; tests that count failed requests (drains, failovers) need a
client that reports every failure instead. This one reuses its connection
until the server says ``connection: close`` (or has closed it before the next
request is written, which any client checks first), and raises on anything
else: reset, early EOF, timeout.
"""

from __future__ import annotations

import asyncio
import ssl as ssl_module
from dataclasses import dataclass, field

import httptools


@dataclass
class Response:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    @property
    def keep_alive(self) -> bool:
        return self.headers.get("connection", "").lower() != "close"


class _Parser:
    def __init__(self) -> None:
        self.response = Response(0)
        self.parts: list[bytes] = []
        self.done = False
        self._parser = httptools.HttpResponseParser(self)

    def feed(self, data: bytes) -> None:
        self._parser.feed_data(data)

    def on_header(self, name: bytes, value: bytes) -> None:
        self.response.headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def on_headers_complete(self) -> None:
        self.response.status = self._parser.get_status_code()

    def on_body(self, body: bytes) -> None:
        self.parts.append(body)

    def on_message_complete(self) -> None:
        self.done = True
        self.response.body = b"".join(self.parts)


class Http1Client:
    """Requests to one ``host:port`` over one kept-alive connection at a time."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        ssl: ssl_module.SSLContext | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.host = host
        self.port = port
        self.ssl = ssl
        self.timeout = timeout
        self.connections_opened = 0
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def _connection(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        reader, writer = self._reader, self._writer
        if reader is not None and writer is not None:
            if not reader.at_eof() and not writer.is_closing():
                return reader, writer
            await self.close()  # closed by the server while idle: nothing was sent on it
        reader, writer = await asyncio.open_connection(
            self.host, self.port, ssl=self.ssl, server_hostname=self.host if self.ssl else None
        )
        self.connections_opened += 1
        self._reader, self._writer = reader, writer
        return reader, writer

    @property
    def peer_certificate(self) -> dict[str, object] | None:
        if self._writer is None:
            return None
        obj = self._writer.get_extra_info("ssl_object")
        return obj.getpeercert() if obj is not None else None

    @property
    def ssl_object(self) -> ssl_module.SSLObject | None:
        return self._writer.get_extra_info("ssl_object") if self._writer is not None else None

    async def request(
        self,
        method: str,
        path: str,
        headers: dict[str, str] | None = None,
        body: bytes = b"",
    ) -> Response:
        """One request; raises (and drops the connection) on any failure."""
        try:
            async with asyncio.timeout(self.timeout):
                return await self._exchange(method, path, headers or {}, body)
        except BaseException:
            await self.close()
            raise

    async def _exchange(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> Response:
        reader, writer = await self._connection()
        lines = [f"{method} {path} HTTP/1.1", f"host: {self.host}:{self.port}"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        if body or method in {"POST", "PUT", "PATCH"}:
            lines.append(f"content-length: {len(body)}")
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
        parser = _Parser()
        while not parser.done:
            data = await reader.read(65536)
            if not data:
                raise ConnectionError("the server closed the connection before the response")
            parser.feed(data)
        response = parser.response
        if not response.keep_alive:
            await self.close()
        return response

    async def close(self) -> None:
        writer, self._writer, self._reader = self._writer, None, None
        if writer is not None:
            writer.close()
            try:
                await writer.wait_closed()
            except (OSError, ssl_module.SSLError):
                pass
