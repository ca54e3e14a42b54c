"""HTTP/1.1 framing at the edge: streaming, chunked, smuggling, limits, keep-alive."""

from __future__ import annotations

import asyncio
import hashlib
import resource
import time

import aiohttp

from zonegate.node.runtime import GatewayNode
from zonegate.testing.gateway import simple_config, url


async def raw_exchange(node: GatewayNode, data: bytes, *, read_timeout: float = 5.0) -> bytes:
    """Send raw bytes; return everything the node sends until it closes or goes quiet."""
    assert node.address is not None
    reader, writer = await asyncio.open_connection(*node.address)
    writer.write(data)
    await writer.drain()
    chunks = []
    try:
        while True:
            chunk = await asyncio.wait_for(reader.read(65536), read_timeout)
            if not chunk:
                break
            chunks.append(chunk)
    except TimeoutError:
        pass
    finally:
        writer.close()
    return b"".join(chunks)


def status_of(response: bytes) -> int:
    return int(response.split(b" ", 2)[1])


async def test_both_content_length_and_transfer_encoding_rejected(gateway, backends) -> None:
    backend = await backends()
    node = await gateway(simple_config(backend.address))
    smuggle = (
        b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /admin HTTP/1.1\r\nHost: x\r\n\r\n"
    )
    response = await raw_exchange(node, smuggle, read_timeout=2)
    assert status_of(response) == 400
    assert response.count(b"HTTP/1.1") == 1, "the smuggled request must not be answered"
    assert backend.state.hits == 0


async def test_duplicate_content_length_rejected(gateway, backends) -> None:
    backend = await backends()
    node = await gateway(simple_config(backend.address))
    response = await raw_exchange(
        node,
        b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
        read_timeout=2,
    )
    assert status_of(response) == 400
    assert backend.state.hits == 0


async def test_invalid_chunk_size_rejected(gateway, backends) -> None:
    backend = await backends()
    node = await gateway(simple_config(backend.address))
    response = await raw_exchange(
        node,
        b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"zz\r\nabc\r\n0\r\n\r\n",
        read_timeout=2,
    )
    assert b" 400 " in response.split(b"\r\n", 1)[0] or response.startswith(b"HTTP/1.1 502")
    assert response.count(b"HTTP/1.1 200") == 0


async def test_oversized_headers_get_431(gateway, backends) -> None:
    backend = await backends()
    config = simple_config(backend.address)
    config["node"] = {"listener": {"limits": {"max_header_bytes": 2048}}}
    node = await gateway(config)
    big = b"X-Big: " + b"a" * 4096 + b"\r\n"
    response = await raw_exchange(node, b"GET /echo HTTP/1.1\r\nHost: x\r\n" + big + b"\r\n")
    assert status_of(response) == 431
    many = b"".join(b"X-H%d: v\r\n" % i for i in range(150))
    response = await raw_exchange(node, b"GET /echo HTTP/1.1\r\nHost: x\r\n" + many + b"\r\n")
    assert status_of(response) == 431
    assert backend.state.hits == 0


async def test_oversized_body_gets_413(gateway, backends) -> None:
    backend = await backends()
    config = simple_config(backend.address)
    config["node"] = {"listener": {"limits": {"max_body_bytes": 1000}}}
    node = await gateway(config)
    response = await raw_exchange(
        node, b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n" + b"a" * 5000
    )
    assert status_of(response) == 413
    # Chunked bodies have no length up front: cut off when they pass the limit.
    chunked = b"".join(b"200\r\n" + b"a" * 512 + b"\r\n" for _ in range(4)) + b"0\r\n\r\n"
    response = await raw_exchange(
        node,
        b"POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked,
    )
    assert status_of(response) in {413, 502}


async def test_slow_client_headers_get_408(gateway, backends) -> None:
    backend = await backends()
    config = simple_config(backend.address)
    config["node"] = {"listener": {"limits": {"header_timeout_s": 0.5}}}
    node = await gateway(config)
    started = time.monotonic()
    response = await raw_exchange(node, b"GET /echo HTTP/1.1\r\nHost: x\r\n", read_timeout=5)
    assert status_of(response) == 408
    assert time.monotonic() - started < 3


async def test_keep_alive_reuses_upstream_connections(gateway, backends) -> None:
    backend = await backends()
    node = await gateway(simple_config(backend.address))
    async with aiohttp.ClientSession() as session:
        for _ in range(20):
            async with session.get(url(node, "/echo")) as resp:
                assert resp.status == 200
                await resp.read()
    pool = node.snapshot.clusters["app"].pool
    assert pool.connects_total == 1
    assert pool.reuses_total == 19


async def test_chunked_both_ways_and_large_streams_with_bounded_memory(gateway, backends) -> None:
    backend = await backends()
    node = await gateway(simple_config(backend.address, timeout_s=60))
    size = 256 * 1024 * 1024
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    digest = hashlib.sha256()

    async def body():
        piece = b"z" * (1 << 20)
        for _ in range(size // len(piece)):
            digest.update(piece)
            yield piece

    async with aiohttp.ClientSession() as session:
        async with session.post(url(node, "/upload"), data=body()) as resp:
            assert resp.status == 200
            result = await resp.json()
        assert result == {"size": size, "sha256": digest.hexdigest()}
        received = 0
        async with session.get(url(node, f"/bytes/{size}")) as resp:
            assert resp.status == 200
            assert resp.headers.get("Transfer-Encoding") == "chunked"
            async for chunk in resp.content.iter_chunked(1 << 20):
                received += len(chunk)
        assert received == size
    growth_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before
    # Test process holds client, node and backend: 2 x 256 MiB passed through it.
    assert growth_kib < 64 * 1024, f"memory grew by {growth_kib} KiB"


async def test_head_204_304_have_no_body(gateway, backends) -> None:
    backend = await backends()
    node = await gateway(simple_config(backend.address))
    response = await raw_exchange(
        node, b"HEAD /fixed/100 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    head, _, rest = response.partition(b"\r\n\r\n")
    assert status_of(response) == 200
    assert b"content-length: 100" in head.lower()
    assert rest == b""
    for code in (204, 304):
        response = await raw_exchange(
            node, b"GET /status/%d HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % code
        )
        head, _, rest = response.partition(b"\r\n\r\n")
        assert status_of(response) == code
        assert rest == b""


async def test_expect_100_continue(gateway, backends) -> None:
    backend = await backends()
    node = await gateway(simple_config(backend.address))
    assert node.address is not None
    reader, writer = await asyncio.open_connection(*node.address)
    writer.write(
        b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
        b"Expect: 100-continue\r\nConnection: close\r\n\r\n"
    )
    interim = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    assert interim.startswith(b"HTTP/1.1 100 Continue")
    writer.write(b"hello")
    rest = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    assert rest.startswith(b"HTTP/1.1 200")
    assert b'"size": 5' in rest or b'"size":5' in rest


async def test_pipelined_requests_answered_in_order(gateway, backends) -> None:
    backend = await backends()
    node = await gateway(simple_config(backend.address))
    response = await raw_exchange(
        node,
        b"GET /delay/50 HTTP/1.1\r\nHost: x\r\n\r\n"
        b"GET /fixed/3 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    first = response.index(b"delayed_ms")
    second = response.index(b"xxx")
    assert response.count(b"HTTP/1.1 200") == 2
    assert first < second
