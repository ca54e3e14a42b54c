"""Each toxic's effect measured over real loopback sockets, proxy in-process."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from zonegate.chaos.faultproxy import ProxyRegistry, ProxyRuntime, ProxySpec, ToxicSpec


class Backend:
    """A TCP backend: echoes, or pushes ``push`` bytes on connect (then closes if asked)."""

    def __init__(self, *, push: bytes = b"", close_after_push: bool = False, bye: bytes = b""):
        self.push = push
        self.close_after_push = close_after_push
        self.bye = bye
        self.received = bytearray()
        self.connections = 0
        self.eof = asyncio.Event()
        self.closed = asyncio.Event()
        self.server: asyncio.Server | None = None

    @property
    def address(self) -> str:
        assert self.server is not None
        host, port = self.server.sockets[0].getsockname()[:2]
        return f"{host}:{port}"

    async def start(self) -> Backend:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        return self

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            if self.push:
                writer.write(self.push)
                await writer.drain()
                if self.close_after_push:
                    return
            while data := await reader.read(65536):
                self.received += data
                if not self.push:
                    writer.write(data)
                    await writer.drain()
            self.eof.set()
            if self.bye:
                writer.write(self.bye)
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()
            self.closed.set()

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()


Connect = Callable[[ProxyRuntime], Awaitable[tuple[asyncio.StreamReader, asyncio.StreamWriter]]]


async def connect(proxy: ProxyRuntime) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    host, port = proxy.listen.rsplit(":", 1)
    return await asyncio.open_connection(host, int(port))


@pytest.fixture
async def registry() -> AsyncIterator[ProxyRegistry]:
    registry = ProxyRegistry(rng=random.Random(1))
    yield registry
    await registry.close()


async def proxy_to(registry: ProxyRegistry, backend: Backend, name: str = "p") -> ProxyRuntime:
    await backend.start()
    return await registry.create_proxy(ProxySpec(name, "127.0.0.1:0", backend.address))


async def round_trip(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> float:
    started = time.perf_counter()
    writer.write(b"ping")
    assert await asyncio.wait_for(reader.readexactly(4), 5) == b"ping"
    return time.perf_counter() - started


async def read_all(reader: asyncio.StreamReader, timeout: float = 5) -> bytes:
    return await asyncio.wait_for(reader.read(), timeout)


async def test_passthrough_moves_large_payloads_intact_both_ways(registry: ProxyRegistry) -> None:
    proxy = await proxy_to(registry, Backend())
    reader, writer = await connect(proxy)
    payload = random.Random(3).randbytes(8 * 1024 * 1024)

    async def send() -> None:
        writer.write(payload)
        await writer.drain()
        writer.write_eof()

    sender = asyncio.create_task(send())
    echoed = await read_all(reader, timeout=20)
    await sender
    assert echoed == payload
    writer.close()


async def test_half_close_reaches_the_backend_and_its_answer_comes_back(
    registry: ProxyRegistry,
) -> None:
    backend = Backend(bye=b"bye")
    proxy = await proxy_to(registry, backend)
    reader, writer = await connect(proxy)
    writer.write(b"request")
    writer.write_eof()
    assert await read_all(reader) == b"requestbye"
    assert backend.eof.is_set()
    writer.close()


@pytest.mark.parametrize("stream", ["downstream", "upstream"])
async def test_latency_adds_the_configured_delay(registry: ProxyRegistry, stream: str) -> None:
    proxy = await proxy_to(registry, Backend())
    reader, writer = await connect(proxy)
    baseline = min([await round_trip(reader, writer) for _ in range(3)])
    registry.add_toxic("p", ToxicSpec.build("latency", {"latency": 100}, stream=stream))
    delayed = [await round_trip(reader, writer) for _ in range(3)]  # an open connection
    for rtt in delayed:
        assert 0.095 <= rtt - baseline <= 0.170, delayed
    registry.remove_toxic("p", f"latency_{stream}")
    assert await round_trip(reader, writer) < 0.05
    writer.close()


async def test_latency_overlaps_chunks_instead_of_queueing_them(registry: ProxyRegistry) -> None:
    proxy = await proxy_to(registry, Backend())
    registry.add_toxic("p", ToxicSpec.build("latency", {"latency": 100}))
    reader, writer = await connect(proxy)
    started = time.perf_counter()
    for _ in range(5):
        writer.write(b"x" * 10)
        await writer.drain()
        await asyncio.sleep(0.01)
    await asyncio.wait_for(reader.readexactly(50), 5)
    assert time.perf_counter() - started < 0.25  # ~0.14, not 5 x 0.1
    writer.close()


async def test_removing_latency_releases_held_data_at_once(registry: ProxyRegistry) -> None:
    proxy = await proxy_to(registry, Backend())
    registry.add_toxic("p", ToxicSpec.build("latency", {"latency": 10_000}))
    reader, writer = await connect(proxy)
    writer.write(b"held")
    await asyncio.sleep(0.1)
    registry.remove_toxic("p", "latency_downstream")
    assert await asyncio.wait_for(reader.readexactly(4), 1) == b"held"
    writer.close()


async def test_bandwidth_within_20_percent_of_rate(registry: ProxyRegistry) -> None:
    size, rate_kb_s = 200_000, 400  # 0.5 s at 400 KB/s
    proxy = await proxy_to(registry, Backend(push=b"z" * size, close_after_push=True))
    registry.add_toxic("p", ToxicSpec.build("bandwidth", {"rate": rate_kb_s}))
    started = time.perf_counter()  # the backend pushes as soon as we connect
    reader, writer = await connect(proxy)
    received = await read_all(reader)
    elapsed = time.perf_counter() - started
    assert len(received) == size
    measured_kb_s = (size / 1000) / elapsed
    assert 0.8 * rate_kb_s <= measured_kb_s <= 1.2 * rate_kb_s, measured_kb_s
    writer.close()


async def test_timeout_zero_holds_data_until_removed_then_closes(
    registry: ProxyRegistry,
) -> None:
    backend = Backend()
    proxy = await proxy_to(registry, backend)
    registry.add_toxic("p", ToxicSpec.build("timeout", {"timeout": 0}, stream="upstream"))
    reader, writer = await connect(proxy)
    writer.write(b"lost")
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(reader.read(1), 0.3)
    assert backend.received == b""
    # Toxiproxy: removing a timeout toxic closes the connections it held.
    registry.remove_toxic("p", "timeout_upstream")
    assert await read_all(reader, timeout=2) == b""
    writer.close()
    # new connections flow normally again
    reader, writer = await connect(proxy)
    assert await round_trip(reader, writer) < 0.5
    writer.close()


async def test_timeout_closes_the_connection_after_its_timeout(registry: ProxyRegistry) -> None:
    backend = Backend()
    proxy = await proxy_to(registry, backend)
    registry.add_toxic("p", ToxicSpec.build("timeout", {"timeout": 300}))
    reader, writer = await connect(proxy)
    started = time.perf_counter()
    writer.write(b"ping")
    assert await read_all(reader) == b""  # the echo never came back, then EOF
    assert 0.28 <= time.perf_counter() - started <= 0.6
    assert backend.received == b"ping"  # downstream timeout: upstream still flowed
    writer.close()


@pytest.mark.parametrize("stream", ["upstream", "downstream"])
async def test_reset_peer_resets_the_client(registry: ProxyRegistry, stream: str) -> None:
    proxy = await proxy_to(registry, Backend())
    registry.add_toxic("p", ToxicSpec.build("reset_peer", {"timeout": 100}, stream=stream))
    reader, writer = await connect(proxy)
    started = time.perf_counter()
    writer.write(b"ping")
    with pytest.raises(ConnectionResetError):
        await asyncio.wait_for(reader.read(100), 5)
    assert 0.09 <= time.perf_counter() - started <= 0.4
    writer.close()


async def test_limit_data_cuts_at_exactly_the_byte_count(registry: ProxyRegistry) -> None:
    payload = bytes(range(256)) * 40
    proxy = await proxy_to(registry, Backend(push=payload))
    registry.add_toxic("p", ToxicSpec.build("limit_data", {"bytes": 1000}))
    reader, writer = await connect(proxy)
    assert await read_all(reader) == payload[:1000]
    writer.close()


async def test_limit_data_upstream_counts_what_the_backend_receives(
    registry: ProxyRegistry,
) -> None:
    backend = Backend()
    proxy = await proxy_to(registry, backend)
    registry.add_toxic("p", ToxicSpec.build("limit_data", {"bytes": 10}, stream="upstream"))
    reader, writer = await connect(proxy)
    writer.write(b"0123456")
    assert await asyncio.wait_for(reader.readexactly(7), 5) == b"0123456"
    writer.write(b"789abcdef")
    await asyncio.wait_for(backend.closed.wait(), 5)
    assert bytes(backend.received) == b"0123456789"
    writer.close()


async def test_slicer_splits_data_into_small_spaced_pieces(registry: ProxyRegistry) -> None:
    proxy = await proxy_to(registry, Backend(push=b"s" * 1000, close_after_push=True))
    registry.add_toxic(
        "p",
        ToxicSpec.build("slicer", {"average_size": 100, "size_variation": 20, "delay": 10_000}),
    )
    reader, writer = await connect(proxy)
    started = time.perf_counter()
    chunks: list[bytes] = []
    while chunk := await asyncio.wait_for(reader.read(65536), 5):
        chunks.append(chunk)
    elapsed = time.perf_counter() - started
    assert sum(map(len, chunks)) == 1000
    assert len(chunks) >= 5, [len(c) for c in chunks]
    assert min(map(len, chunks)) >= 40
    assert elapsed >= 0.06  # >= 8 slices, 10 ms apart
    writer.close()


async def test_slow_close_delays_the_close_not_the_data(registry: ProxyRegistry) -> None:
    proxy = await proxy_to(registry, Backend(push=b"data", close_after_push=True))
    registry.add_toxic("p", ToxicSpec.build("slow_close", {"delay": 300}))
    reader, writer = await connect(proxy)
    started = time.perf_counter()
    assert await asyncio.wait_for(reader.readexactly(4), 1) == b"data"
    assert time.perf_counter() - started < 0.1
    assert await read_all(reader) == b""
    assert 0.28 <= time.perf_counter() - started <= 0.6
    writer.close()


async def test_toxicity_zero_never_applies(registry: ProxyRegistry) -> None:
    proxy = await proxy_to(registry, Backend())
    registry.add_toxic("p", ToxicSpec.build("latency", {"latency": 500}, toxicity=0.0))
    reader, writer = await connect(proxy)
    assert await round_trip(reader, writer) < 0.2
    writer.close()


async def test_disabled_proxy_refuses_and_drops_connections(registry: ProxyRegistry) -> None:
    proxy = await proxy_to(registry, Backend())
    listen = proxy.listen
    reader, writer = await connect(proxy)
    await round_trip(reader, writer)
    await registry.set_enabled("p", False)
    assert await read_all(reader, timeout=2) == b""
    with pytest.raises(ConnectionRefusedError):
        await connect(proxy)
    writer.close()
    await registry.set_enabled("p", True)
    assert proxy.listen == listen  # same port again
    reader, writer = await connect(proxy)
    assert await round_trip(reader, writer) < 0.5
    writer.close()


async def test_unreachable_upstream_closes_the_client(registry: ProxyRegistry) -> None:
    backend = Backend()
    proxy = await proxy_to(registry, backend)
    await backend.stop()
    reader, writer = await connect(proxy)
    assert await read_all(reader, timeout=5) == b""
    writer.close()
    assert proxy.connection_count == 0


async def test_reset_restores_every_proxy(registry: ProxyRegistry) -> None:
    proxy = await proxy_to(registry, Backend())
    registry.add_toxic("p", ToxicSpec.build("latency", {"latency": 1000}))
    await registry.set_enabled("p", False)
    await registry.reset()
    assert proxy.enabled and len(proxy.toxics) == 0
    reader, writer = await connect(proxy)
    assert await round_trip(reader, writer) < 0.5
    writer.close()


async def test_toxic_chain_buffers_are_bounded_by_flow_control(registry: ProxyRegistry) -> None:
    size = 20 * 1024 * 1024
    proxy = await proxy_to(registry, Backend(push=b"b" * size, close_after_push=True))
    registry.add_toxic("p", ToxicSpec.build("bandwidth", {"rate": 2000}))  # 2 MB/s: slow
    reader, writer = await connect(proxy)
    await asyncio.wait_for(reader.readexactly(500_000), 5)
    peak = 0
    for _ in range(10):
        await asyncio.sleep(0.03)
        peak = max(peak, proxy.queued_bytes())
    # the backend is paused instead of 20 MB piling up in the proxy
    assert 0 < peak <= 1024 * 1024, peak
    registry.remove_toxic("p", "bandwidth_downstream")
    assert len(await read_all(reader, timeout=20)) == size - 500_000
    writer.close()


async def test_updating_a_toxic_changes_open_connections(registry: ProxyRegistry) -> None:
    proxy = await proxy_to(registry, Backend())
    registry.add_toxic("p", ToxicSpec.build("latency", {"latency": 50}))
    reader, writer = await connect(proxy)
    assert 0.045 <= await round_trip(reader, writer) <= 0.15
    current = registry.get_toxic("p", "latency_downstream")
    registry.update_toxic("p", ToxicSpec.build("latency", {"latency": 250}, name=current.name))
    assert 0.245 <= await round_trip(reader, writer) <= 0.4
    writer.close()


async def test_changing_the_upstream_restarts_the_proxy(registry: ProxyRegistry) -> None:
    first, second = Backend(), Backend(push=b"second", close_after_push=True)
    proxy = await proxy_to(registry, first)
    await second.start()
    reader, writer = await connect(proxy)
    await round_trip(reader, writer)
    await registry.update_proxy(ProxySpec("p", proxy.listen, second.address, True))
    assert await read_all(reader) == b""  # the old connection was dropped
    writer.close()
    reader, writer = await connect(proxy)
    assert await read_all(reader) == b"second"
    writer.close()
