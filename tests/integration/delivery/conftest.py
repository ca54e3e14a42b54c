"""Fixtures: real backends, a backend that never answers, nodes with metrics, and load."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httptools
import pytest
import uvloop

from zonegate.config.loader import parse_config
from zonegate.node.delivery.metrics import MirrorCollector
from zonegate.node.ops.assembly import NodeOps
from zonegate.node.runtime import GatewayNode
from zonegate.testing.backend import TestBackend
from zonegate.testing.http1 import Http1Client, Response

BackendFactory = Callable[..., Awaitable[TestBackend]]


@dataclass
class Node:
    node: GatewayNode
    ops: NodeOps

    @property
    def host_port(self) -> tuple[str, int]:
        assert self.node.address is not None
        return self.node.address


NodeFactory = Callable[..., Awaitable[Node]]


@pytest.fixture
async def gateway() -> AsyncIterator[NodeFactory]:
    """``await gateway(config_dict)``: a started node with metrics (incl. mirror counts)."""
    made: list[Node] = []

    async def make(config: dict[str, Any], *, zone: str = "zone-a", **kwargs: Any) -> Node:
        cfg = parse_config({"version": 1, **config})
        ops = NodeOps(cfg.node, "node-1", zone)
        gw = GatewayNode(cfg, node_id="node-1", zone=zone, **ops.node_kwargs(), **kwargs)
        ops.registry.register(MirrorCollector(gw.proxy.shadow, "node-1", zone))
        await gw.start("127.0.0.1", 0)
        made.append(Node(gw, ops))
        return made[-1]

    yield make
    for item in made:
        await item.node.stop()
        await item.ops.close()


class _FastBackendProtocol(asyncio.Protocol):
    def __init__(self, backend: FastBackend) -> None:
        self.backend = backend
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpRequestParser(self)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.parser.feed_data(data)

    def on_message_complete(self) -> None:
        self.backend.hits += 1
        assert self.transport is not None
        self.transport.write(self.backend.answer)


@dataclass
class FastBackend:
    """A minimal keep-alive backend (no framework): answers {"backend": name} to anything."""

    name: str
    port: int = 0
    hits: int = 0
    server: asyncio.Server | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def answer(self) -> bytes:
        body = b'{"backend":"%b"}' % self.name.encode()
        return (
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%b"
            % (
                len(body),
                body,
            )
        )


@pytest.fixture
async def fast_backends() -> AsyncIterator[Callable[[str], Awaitable[FastBackend]]]:
    started: list[FastBackend] = []

    async def make(name: str) -> FastBackend:
        backend = FastBackend(name)
        loop = asyncio.get_running_loop()
        backend.server = await loop.create_server(
            lambda: _FastBackendProtocol(backend), "127.0.0.1", 0
        )
        backend.port = backend.server.sockets[0].getsockname()[1]
        started.append(backend)
        return backend

    yield make
    for backend in started:
        assert backend.server is not None
        backend.server.close()


@dataclass
class SilentServer:
    """Accepts connections and reads forever, never answering (a hung shadow)."""

    port: int = 0
    connections: int = 0
    received: list[bytes] = field(default_factory=list)
    writers: list[asyncio.StreamWriter] = field(default_factory=list)
    server: asyncio.Server | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.writers.append(writer)
        try:
            while data := await reader.read(65536):
                self.received.append(data)
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()


@pytest.fixture
async def silent_server() -> AsyncIterator[SilentServer]:
    silent = SilentServer()
    silent.server = await asyncio.start_server(silent.handle, "127.0.0.1", 0)
    silent.port = silent.server.sockets[0].getsockname()[1]
    yield silent
    silent.server.close()
    for writer in silent.writers:
        writer.close()
    await silent.server.wait_closed()


@dataclass
class LoadResult:
    responses: list[Response]
    latencies: list[float]

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


HeadersFor = Callable[[int], dict[str, str]]
Load = Callable[..., Awaitable[LoadResult]]


@pytest.fixture
def load() -> Load:
    """``await load(node, n, path=..., concurrency=..., headers=fn(i))``: every response."""

    async def run(
        node: Node,
        n: int,
        *,
        path: str = "/echo",
        method: str = "GET",
        body: bytes = b"",
        concurrency: int = 8,
        headers: HeadersFor | None = None,
    ) -> LoadResult:
        host, port = node.host_port
        responses: list[Response | None] = [None] * n
        latencies: list[float] = [0.0] * n
        counter = iter(range(n))

        async def worker() -> None:
            client = Http1Client(host, port)
            try:
                for i in counter:
                    started = time.perf_counter()
                    responses[i] = await client.request(
                        method, path, headers(i) if headers else None, body
                    )
                    latencies[i] = time.perf_counter() - started
            finally:
                await client.close()

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return LoadResult([r for r in responses if r is not None], latencies)

    return run


def pytest_asyncio_loop_factories(config: object, item: object) -> dict[str, object]:
    """Run on uvloop, the loop nodes run on in production."""
    return {"uvloop": uvloop.new_event_loop}
