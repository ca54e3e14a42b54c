"""The fault proxy server: the HTTP API app, and a runner usable in-process or from the CLI.

In-process (tests, the chaos harness, the cluster supervisor)::

    async with FaultProxyServer(port=0) as server:
        print(server.url)                 # http://127.0.0.1:<port>, the Toxiproxy API
        await server.registry.create_proxy(ProxySpec("db", "127.0.0.1:0", "127.0.0.1:5432"))
"""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from types import TracebackType
from typing import Final

from aiohttp import web

from zonegate.chaos.faultproxy.addresses import format_host_port
from zonegate.chaos.faultproxy.api import REGISTRY_KEY, add_routes, toxiproxy_errors
from zonegate.chaos.faultproxy.errors import FaultProxyError
from zonegate.chaos.faultproxy.models import ProxySpec, parse_populate
from zonegate.chaos.faultproxy.proxy import ProxyRuntime
from zonegate.chaos.faultproxy.registry import ProxyRegistry

log = logging.getLogger(__name__)

DEFAULT_HOST: Final = "127.0.0.1"
DEFAULT_PORT: Final = 8474
MAX_BODY_BYTES: Final = 1024 * 1024


def build_app(registry: ProxyRegistry) -> web.Application:
    """The Toxiproxy API app; every proxy is stopped when the app shuts down."""
    app = web.Application(middlewares=[toxiproxy_errors], client_max_size=MAX_BODY_BYTES)
    app[REGISTRY_KEY] = registry

    async def proxies_ctx(app: web.Application) -> AsyncIterator[None]:
        yield
        await app[REGISTRY_KEY].close()

    app.cleanup_ctx.append(proxies_ctx)
    add_routes(app)
    return app


def load_config_file(path: str | Path) -> list[ProxySpec]:
    """A Toxiproxy ``-config`` file: a JSON array of proxies. Raises :class:`FaultProxyError`."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise FaultProxyError(f"cannot read config file {path}: {exc.strerror or exc}") from None
    try:
        payload = json.loads(text)
    except json.JSONDecodeError as exc:
        raise FaultProxyError(f"config file {path} is not valid JSON: {exc}") from None
    try:
        return parse_populate(payload)
    except FaultProxyError as exc:
        raise FaultProxyError(f"config file {path}: {exc.message}", status=exc.status) from None


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening-ready TCP socket on ``host:port`` (port 0 picks one)."""
    info = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
    sock = socket.socket(info[0], info[1], info[2])
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(info[4])
    except BaseException:
        sock.close()
        raise
    return sock


class FaultProxyServer:
    """Runs the API on ``host:port`` around a :class:`ProxyRegistry` (an async context manager)."""

    def __init__(
        self,
        host: str = DEFAULT_HOST,
        port: int = DEFAULT_PORT,
        *,
        registry: ProxyRegistry | None = None,
    ) -> None:
        self.host = host
        self.requested_port = port
        self.registry = registry or ProxyRegistry()
        self.port = 0
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://{format_host_port(self.host, self.port)}"

    async def start(self) -> None:
        """Bind the API (``OSError`` if the port is taken) and start serving."""
        sock = bind_socket(self.host, self.requested_port)
        self.port = sock.getsockname()[1]
        runner = web.AppRunner(build_app(self.registry), access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        try:
            await web.SockSite(runner, sock).start()
        except BaseException:
            await runner.cleanup()
            sock.close()
            raise
        self._runner = runner
        log.info("faultproxy_api_started", extra={"url": self.url})

    async def populate(self, specs: list[ProxySpec]) -> list[ProxyRuntime]:
        return await self.registry.populate(specs)

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> FaultProxyServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()
