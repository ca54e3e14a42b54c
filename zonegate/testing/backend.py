"""A real HTTP backend for tests: echoes, fails, stalls and streams on request.

Endpoints:
  GET  /echo            JSON: method, path, query, headers, body size, backend name
  ANY  /status/{code}   answers with that status
  GET  /delay/{ms}      answers after ms milliseconds
  GET  /bytes/{n}       n bytes, chunked (streamed in 64 KiB pieces)
  GET  /fixed/{n}       n bytes with Content-Length
  POST /upload          reads the body as a stream; JSON: size, sha256
  GET  /reset           closes the connection without an answer
  GET  /healthz         200 unless ``healthy`` is False
The ``fail_status`` knob makes every non-health request answer that status.
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass, field

from aiohttp import web


@dataclass
class BackendState:
    name: str
    hits: int = 0
    healthy: bool = True
    fail_status: int | None = None
    delay_s: float = 0.0
    extra_headers: dict[str, str] = field(default_factory=dict)
    seen_headers: list[dict[str, str]] = field(default_factory=list)


class TestBackend:
    """One backend on a free loopback port."""

    __test__ = False  # not a pytest test class

    def __init__(self, name: str = "backend", host: str = "127.0.0.1") -> None:
        self.state = BackendState(name)
        self.host = host
        self.port = 0
        self._runner: web.AppRunner | None = None

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    async def start(self, port: int = 0) -> TestBackend:
        app = web.Application(client_max_size=1 << 40)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, port)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        state = self.state
        path = request.path
        if path == "/healthz":
            return web.Response(status=200 if state.healthy else 503, text="ok")
        state.hits += 1
        state.seen_headers.append(dict(request.headers))
        if state.delay_s:
            await asyncio.sleep(state.delay_s)
        if state.fail_status is not None:
            return web.json_response(
                {"backend": state.name}, status=state.fail_status, headers=state.extra_headers
            )
        parts = path.strip("/").split("/")
        head = parts[0] if parts else ""
        arg = parts[1] if len(parts) > 1 else ""
        if head == "status" and arg.isdigit():
            return web.Response(status=int(arg), text=f"status {arg} from {state.name}")
        if head == "delay" and arg.isdigit():
            await asyncio.sleep(int(arg) / 1000)
            return web.json_response({"backend": state.name, "delayed_ms": int(arg)})
        if head == "bytes" and arg.isdigit():
            return await self._stream(request, int(arg))
        if head == "fixed" and arg.isdigit():
            return web.Response(body=b"x" * int(arg))
        if head == "upload":
            digest = hashlib.sha256()
            size = 0
            async for chunk in request.content.iter_chunked(65536):
                digest.update(chunk)
                size += len(chunk)
            return web.json_response({"size": size, "sha256": digest.hexdigest()})
        if head == "reset":
            transport = request.transport
            if transport is not None:
                transport.abort()
            raise asyncio.CancelledError
        body = await request.read()
        return web.json_response(
            {
                "backend": state.name,
                "method": request.method,
                "path": path,
                "query": request.query_string,
                "headers": dict(request.headers),
                "body_size": len(body),
            }
        )

    async def _stream(self, request: web.Request, size: int) -> web.StreamResponse:
        resp = web.StreamResponse()
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        piece = b"y" * 65536
        left = size
        while left > 0:
            n = min(left, len(piece))
            await resp.write(piece[:n])
            left -= n
        await resp.write_eof()
        return resp
