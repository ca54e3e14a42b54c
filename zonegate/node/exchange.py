"""One exchange with an upstream host: send a request, then relay the response.

Shared by the node's proxy and the GLB: both send over pooled keep-alive
connections with one timer per exchange, and both relay the response with
the same framing rules.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Final

from zonegate.node.body import BodyStream
from zonegate.node.errors import UpstreamTimeout, reason
from zonegate.node.headers import response_head
from zonegate.node.http import Request, ResponseHead
from zonegate.node.upstream.connection import UpstreamConnection
from zonegate.node.upstream.host import Host
from zonegate.node.upstream.pool import ConnectionPool

if TYPE_CHECKING:
    from zonegate.node.server import ClientConnection

_NO_BODY_STATUSES: Final = frozenset({204, 304})


class RequestBody:
    """The request body as sent upstream, kept for replay while it fits the retry buffer."""

    __slots__ = ("chunked", "data", "length", "replayable", "stream")

    def __init__(self, req: Request, stream: BodyStream | None, buffer_limit: int) -> None:
        self.stream = stream
        self.data = b""
        self.chunked = False
        self.length: int | None = 0
        self.replayable = True
        if stream is None:
            return
        if stream.complete and stream.failed is None:
            self.data = stream.take_all()
            self.length = len(self.data)
            self.stream = None
            return
        cl = req.header(b"content-length")
        self.length = int(cl) if cl is not None else None
        self.chunked = self.length is None
        self.replayable = self.length is not None and self.length <= buffer_limit

    @property
    def framing(self) -> bytes:
        if self.chunked:
            return b"transfer-encoding: chunked\r\n"
        if self.length == 0 and self.stream is None:
            return b""
        return b"content-length: %d\r\n" % (self.length or 0)

    @property
    def in_memory(self) -> bool:
        return self.stream is None

    async def stream_to(self, conn: UpstreamConnection, client: ClientConnection) -> None:
        """Send the rest of a streamed body; keeps a copy while it is replayable."""
        stream = self.stream
        assert stream is not None
        if stream.expects_continue and not stream.received:
            client.send_continue()
        kept: list[bytes] = []
        while True:
            chunk = await stream.read()
            if not chunk:
                break
            if self.replayable:
                kept.append(chunk)
            conn.write(b"%x\r\n%b\r\n" % (len(chunk), chunk) if self.chunked else chunk)
            await conn.drain()
        if self.chunked:
            conn.write(b"0\r\n\r\n")
        if self.replayable:
            self.data = b"".join(kept)
            self.stream = None


async def send_request(
    client: ClientConnection,
    pool: ConnectionPool,
    host: Host,
    head: bytes,
    body: RequestBody,
    *,
    head_only: bool,
    try_deadline: float,
    deadline: float,
    connect_timeout: float,
) -> UpstreamConnection:
    """Send the request to ``host``; return the connection once the response head is in.

    The connection's timer fails the exchange at ``try_deadline`` while the
    head is awaited, then at the overall ``deadline`` while the body streams.
    """
    loop = asyncio.get_running_loop()
    remaining = try_deadline - loop.time()
    if remaining <= 0:
        raise UpstreamTimeout("request deadline exceeded")
    conn = pool.take_idle(host.address) or await pool.connect(
        host.host, host.port, min(connect_timeout, remaining), host.address
    )
    try:
        conn.arm_timeout(try_deadline)
        if body.in_memory:
            head_future = conn.send(head + body.data, head_only=head_only)
        else:
            head_future = conn.send(head, head_only=head_only)
            async with asyncio.timeout_at(try_deadline):
                await body.stream_to(conn, client)
        await head_future
    except TimeoutError:
        conn.abort()
        raise UpstreamTimeout(f"{host.address} did not answer in time") from None
    except BaseException:
        conn.abort()
        raise
    if try_deadline < deadline:
        conn.arm_timeout(deadline)
    return conn


def start_relay(
    client: ClientConnection,
    conn: UpstreamConnection,
    req: Request,
    resp: ResponseHead,
    request_id: str,
    identity: tuple[bytes, ...],
) -> None:
    """Write the response head (with the framing the client needs) and start streaming."""
    no_body = req.method == "HEAD" or resp.status in _NO_BODY_STATUSES
    chunked = False
    length = resp.header(b"content-length")
    keep_alive = not client.close_after
    if no_body:
        framing = b"content-length: %b\r\n" % length if length and req.method == "HEAD" else b""
    elif length is not None:
        framing = b"content-length: %b\r\n" % length
    elif req.version == "1.1":
        framing = b"transfer-encoding: chunked\r\n"
        chunked = True
    else:
        framing = b""
        keep_alive = False
        client.close_after = True
    head = response_head(
        resp.status,
        reason(resp.status),
        resp.headers,
        framing=framing,
        request_id=request_id,
        identity=identity,
        keep_alive=keep_alive and req.header(b"connection") != b"close",
    )
    conn.forward(client, head, chunked=chunked)


async def relay_response(
    client: ClientConnection,
    conn: UpstreamConnection,
    req: Request,
    resp: ResponseHead,
    request_id: str,
    identity: tuple[bytes, ...],
    pool: ConnectionPool,
) -> None:
    """Stream the response on ``conn`` to the client, then pool the connection."""
    start_relay(client, conn, req, resp, request_id, identity)
    try:
        await conn.done  # the connection's timer enforces the deadline
    except BaseException:
        conn.abort()
        client.abort()
        raise
    conn.disarm_timeout()
    conn.finish_forward()
    pool.release(conn)


__all__ = ["BodyStream", "RequestBody", "relay_response", "send_request"]
