"""The client side of a node: an asyncio protocol with the llhttp parser.

Requests on one connection are handled one after the other (pipelined
requests wait their turn, their bodies buffered with flow control). Framing
problems that could smuggle a request (Content-Length together with
Transfer-Encoding, duplicate lengths, bad chunk sizes) are refused with 400
and the connection is closed.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Coroutine
from ssl import SSLContext
from typing import Any, Protocol, cast

import httptools

from zonegate import conventions as cv
from zonegate.config.node import Limits
from zonegate.node.body import BodyStream
from zonegate.node.errors import BodyTooLarge, ClientAborted, error_body, reason
from zonegate.node.http import Headers, Request
from zonegate.node.upstream.host import Host

log = logging.getLogger("zonegate.node.server")

Handler = Callable[["ClientConnection", Request, "BodyStream | None"], Coroutine[Any, Any, None]]
FastHandler = Callable[["ClientConnection", "Exchange"], bool]
"""Takes a body-less exchange on the callback fast path; False = use the handler."""


class FastPathExchange(Protocol):
    def cancel(self) -> None: ...


class RejectRequest(Exception):
    """Raised inside parser callbacks to stop parsing and answer with an error."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


class Exchange:
    __slots__ = ("body", "keep_alive", "request")

    def __init__(self, request: Request, body: BodyStream | None, keep_alive: bool) -> None:
        self.request = request
        self.body = body
        self.keep_alive = keep_alive


class ClientConnection(asyncio.Protocol):
    """One client connection."""

    def __init__(self, server: NodeServer) -> None:
        self.server = server
        self.limits = server.limits
        self.loop = server.loop
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpRequestParser(self)
        # bound once: a method lookup per call is measurable on the hot path
        self._feed = self.parser.feed_data
        self._transport_write: Callable[[bytes], object] | None = None
        self.client_ip = ""
        self.scheme = server.scheme
        self.closed = False
        self.close_after = server.draining  # a draining node answers with connection: close
        self.in_message = False  # between on_message_begin and on_message_complete
        self.deadline = 0.0
        self.response_started = False
        self._url = b""
        self._headers: Headers = []
        self._header_bytes = 0
        self._has_cl = False
        self._has_te = False
        self._body: BodyStream | None = None
        self._pending: deque[Exchange] = deque()
        self._task: asyncio.Task[None] | None = None
        self._busy = False
        #: The exchange running on the proxy's callback fast path, if any.
        self.fast: FastPathExchange | None = None
        #: A host the fast path picked before handing the request to the coroutine path.
        self.preselected_host: Host | None = None
        #: The cluster the fast path chose (weights, canaries) before handing the request over.
        self.preselected_cluster = ""
        self._reading_paused = False
        self._writing_paused = False
        self._source_pause: Callable[[], None] | None = None
        self._source_resume: Callable[[], None] | None = None
        self._drain: asyncio.Future[None] | None = None

    # --- asyncio protocol -----------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        self._transport_write = self.transport.write
        peer = transport.get_extra_info("peername")
        self.client_ip = peer[0] if peer else ""
        self.deadline = self.loop.time() + self.limits.header_timeout_s
        self.server.connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.server.connections.discard(self)
        if self._body is not None:
            self._body.fail(ClientAborted("client closed the connection"))
        for exchange in self._pending:
            if exchange.body is not None:
                exchange.body.fail(ClientAborted("client closed the connection"))
        if self._task is not None and not self._task.done():
            self._task.cancel()
        elif self.fast is not None:
            fast, self.fast = self.fast, None
            fast.cancel()
        if self._drain is not None and not self._drain.done():
            self._drain.set_result(None)

    def data_received(self, data: bytes) -> None:
        try:
            self._feed(data)
        except httptools.HttpParserCallbackError as exc:
            cause = exc.__context__ or exc.__cause__
            if isinstance(cause, RejectRequest):
                self.reject(cause.status, cause.code, cause.message)
            else:
                log.exception("request_parse_callback_failed")
                self.reject(400, cv.ERR_BAD_REQUEST, "bad request")
        except httptools.HttpParserUpgrade:
            self.reject(400, cv.ERR_BAD_REQUEST, "protocol upgrades are not supported")
        except httptools.HttpParserError as exc:
            self.reject(400, cv.ERR_BAD_REQUEST, f"malformed request: {exc}")

    def eof_received(self) -> bool | None:
        if self._body is not None:
            self._body.fail(ClientAborted("client closed before sending the whole body"))
        # Keep the transport half-open so an in-flight response can still be written.
        return self._busy

    def pause_writing(self) -> None:
        self._writing_paused = True
        if self._source_pause is not None:
            self._source_pause()

    def resume_writing(self) -> None:
        self._writing_paused = False
        if self._source_resume is not None:
            self._source_resume()
        if self._drain is not None and not self._drain.done():
            self._drain.set_result(None)

    # --- llhttp callbacks --------------------------------------------------------
    def on_message_begin(self) -> None:
        self.in_message = True
        self._url = b""
        self._headers = []
        self._header_bytes = 0
        self._has_cl = False
        self._has_te = False
        self.deadline = self.loop.time() + self.limits.header_timeout_s

    def on_url(self, url: bytes) -> None:
        self._url += url
        if len(self._url) > self.limits.max_header_bytes:
            raise RejectRequest(431, cv.ERR_HEADERS_TOO_LARGE, "request target too long")

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_bytes += len(name) + len(value) + 4
        if self._header_bytes > self.limits.max_header_bytes:
            raise RejectRequest(431, cv.ERR_HEADERS_TOO_LARGE, "request headers too large")
        if len(self._headers) >= self.limits.max_headers:
            raise RejectRequest(431, cv.ERR_HEADERS_TOO_LARGE, "too many request headers")
        name = name.lower()
        if name == b"content-length":
            if self._has_cl:
                raise RejectRequest(400, cv.ERR_BAD_REQUEST, "duplicate Content-Length")
            self._has_cl = True
        elif name == b"transfer-encoding":
            self._has_te = True
        self._headers.append((name, value))

    def on_headers_complete(self) -> None:
        self.deadline = float("inf")
        if self._has_cl and self._has_te:
            raise RejectRequest(
                400, cv.ERR_BAD_REQUEST, "both Content-Length and Transfer-Encoding"
            )
        url = self._url
        path, _, query = url.partition(b"?")
        if not path.startswith(b"/"):
            if path.startswith((b"http://", b"https://")):
                parsed = httptools.parse_url(url)
                path = parsed.path or b"/"
                query = parsed.query or b""
            elif path == b"*":
                pass
            else:
                raise RejectRequest(400, cv.ERR_BAD_REQUEST, "invalid request target")
        request = Request(
            self.parser.get_method().decode(),
            path.decode("latin-1"),
            query.decode("latin-1"),
            self._headers,
            version=self.parser.get_http_version(),
            client_ip=self.client_ip,
            scheme=self.scheme,
        )
        body: BodyStream | None = None
        if self._has_te or self._has_cl:
            length = request.header(b"content-length")
            if length is not None and int(length) > self.limits.max_body_bytes:
                raise RejectRequest(413, "payload_too_large", "request body too large")
            if length != b"0":
                body = BodyStream(self._pause_reading, self._resume_reading)
                expect = request.header(b"expect")
                body.expects_continue = expect is not None and expect.lower() == b"100-continue"
        self._body = body
        exchange = Exchange(request, body, self.parser.should_keep_alive())
        if not self._busy:
            self._start(exchange)
        else:
            self._pending.append(exchange)

    def on_body(self, data: bytes) -> None:
        body = self._body
        if body is None:
            return
        body.feed(data)
        if body.received > self.limits.max_body_bytes:
            body.fail(BodyTooLarge("request body too large"))
            self.close_after = True

    def on_message_complete(self) -> None:
        self.in_message = False
        if self._body is not None:
            self._body.finish()
            self._body = None

    # --- used by the proxy (response side) ----------------------------------------
    def write(self, data: bytes) -> None:
        write = self._transport_write
        if write is not None and not self.closed:
            self.response_started = True
            write(data)

    def pause_source(self, pause: Callable[[], None], resume: Callable[[], None]) -> None:
        self._source_pause = pause
        self._source_resume = resume
        if self._writing_paused:
            pause()

    async def drain(self) -> None:
        if self._writing_paused and not self.closed:
            self._drain = self.loop.create_future()
            await self._drain

    def send_continue(self) -> None:
        self.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        self.response_started = False

    def local_reply(
        self,
        status: int,
        code: str,
        message: str,
        request_id: str = "",
        *,
        headers: Headers | None = None,
        body: bytes | None = None,
        content_type: bytes = b"application/json",
        keep_alive: bool = True,
    ) -> int:
        """Write a whole gateway-made response; returns the body size."""
        if body is None:
            body = error_body(code, message, request_id)
        parts = [
            b"HTTP/1.1 %d %b\r\ncontent-type: %b\r\ncontent-length: %d\r\n"
            % (status, reason(status), content_type, len(body))
        ]
        if request_id:
            parts.append(b"x-request-id: %b\r\n" % request_id.encode())
        parts.extend(b"%b: %b\r\n" % (k, v) for k, v in headers or ())
        parts.extend(self.server.identity_headers)
        if not keep_alive:
            self.close_after = True
        if self.close_after:
            parts.append(b"connection: close\r\n")
        parts.append(b"\r\n")
        parts.append(body)
        self.write(b"".join(parts))
        return len(body)

    def reject(self, status: int, code: str, message: str) -> None:
        """Answer a request we could not parse or accept, then close."""
        self.close_after = True
        self.pause_reading_for_good()
        if not self._busy and not self.response_started:
            self.local_reply(status, code, message, keep_alive=False)
            self.close()
        elif self._body is not None:
            self._body.fail(ClientAborted(message))

    def pause_reading_for_good(self) -> None:
        if self.transport is not None and not self._reading_paused and not self.closed:
            self._reading_paused = True
            self.transport.pause_reading()

    def close(self) -> None:
        if self.transport is not None and not self.closed:
            self.closed = True
            self.transport.close()

    def abort(self) -> None:
        if self.transport is not None:
            self.closed = True
            self.transport.abort()

    # --- request sequencing ---------------------------------------------------------
    @property
    def busy(self) -> bool:
        """A request is being handled (by a task or on the fast path)."""
        return self._busy

    def _start(self, exchange: Exchange) -> None:
        self.response_started = False
        self._busy = True
        server = self.server
        if not server.active_requests:
            server.idle.clear()  # (an interpreted asyncio call: only on 0 -> 1)
        server.active_requests += 1
        fast = server.fast_handler
        if fast is not None and exchange.body is None and fast(self, exchange):
            return
        self._task = self.loop.create_task(
            self._run(server.handler(self, exchange.request, exchange.body), exchange)
        )

    def continue_with(self, exchange: Exchange, handling: Coroutine[Any, Any, None]) -> None:
        """The fast path hands the rest of ``exchange`` to a coroutine."""
        self.fast = None
        self._task = self.loop.create_task(self._run(handling, exchange))

    async def _run(self, handling: Coroutine[Any, Any, None], exchange: Exchange) -> None:
        try:
            await handling
        finally:
            self._task = None
            self.fast_done(exchange)

    def fast_done(self, exchange: Exchange) -> None:
        """The response to ``exchange`` is complete: account for it, go on with the next."""
        server = self.server
        server.active_requests -= 1
        if not server.active_requests:
            server.idle.set()
        self._source_pause = self._source_resume = None
        self.fast = None
        self.preselected_host = None
        self.preselected_cluster = ""
        self._busy = False
        self._finished(exchange)

    def _finished(self, exchange: Exchange) -> None:
        if self.closed:
            return
        body = exchange.body
        unread_body = body is not None and not body.complete
        if not exchange.keep_alive or self.close_after or unread_body or self.server.draining:
            self.close()
            return
        if self._pending:
            self._start(self._pending.popleft())
            return
        self.deadline = self.loop.time() + self.limits.idle_timeout_s
        self._resume_reading()

    def _pause_reading(self) -> None:
        if self.transport is not None and not self._reading_paused and not self.closed:
            self._reading_paused = True
            self.transport.pause_reading()

    def _resume_reading(self) -> None:
        if self.transport is not None and self._reading_paused and not self.closed:
            self._reading_paused = False
            self.transport.resume_reading()

    def check_timeout(self, now: float) -> None:
        """Called about once a second: slow headers get 408, idle connections close."""
        if now < self.deadline or self._busy:
            return
        if self.in_message:  # a slow request head; an idle keep-alive connection just closes
            self.local_reply(
                408, cv.ERR_REQUEST_TIMEOUT, "request headers took too long", keep_alive=False
            )
        self.close()


class NodeServer:
    """Listening sockets and the set of live client connections of one node."""

    def __init__(
        self,
        handler: Handler,
        limits: Limits,
        *,
        scheme: str = "http",
        identity_headers: tuple[bytes, ...] = (),
        fast_handler: FastHandler | None = None,
    ) -> None:
        self.handler = handler
        self.fast_handler = fast_handler
        self.limits = limits
        self.scheme = scheme
        self.identity_headers = identity_headers
        self.loop = asyncio.get_running_loop()
        self.connections: set[ClientConnection] = set()
        self.active_requests = 0
        self.idle = asyncio.Event()
        self.idle.set()
        self.draining = False
        self._servers: list[asyncio.Server] = []
        self._sweeper: asyncio.Task[None] | None = None

    async def listen(
        self, host: str, port: int, *, reuse_port: bool = False, ssl: SSLContext | None = None
    ) -> tuple[str, int]:
        server = await self.loop.create_server(
            lambda: ClientConnection(self),
            host,
            port,
            reuse_port=reuse_port or None,
            ssl=ssl,
            backlog=1024,
        )
        self._servers.append(server)
        if self._sweeper is None:
            self._sweeper = self.loop.create_task(self._sweep(), name="node-timeouts")
        sockets: Any = getattr(server, "sockets")  # noqa: B009 (uvloop: list, typeshed: tuple)
        addr = sockets[0].getsockname()
        return addr[0], addr[1]

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(0.5)
            now = self.loop.time()
            for conn in list(self.connections):
                conn.check_timeout(now)

    def start_draining(self) -> None:
        """Answer every later response with ``connection: close`` and close after it."""
        self.draining = True
        for conn in self.connections:
            conn.close_after = True

    def close_idle(self) -> int:
        """Close connections with no request in flight or arriving; returns how many."""
        idle = [c for c in self.connections if not c.busy and not c.in_message]
        for conn in idle:
            conn.close()
        return len(idle)

    def stop_accepting(self) -> None:
        for server in self._servers:
            server.close()

    async def wait_idle(self, timeout: float) -> bool:
        """Wait until no request is in flight; True when that happened in time."""
        try:
            async with asyncio.timeout(timeout):
                await self.idle.wait()
        except TimeoutError:
            return False
        return True

    async def close(self) -> None:
        self.stop_accepting()
        for conn in list(self.connections):
            conn.close()
        if self._sweeper is not None:
            self._sweeper.cancel()
            try:
                await self._sweeper
            except asyncio.CancelledError:
                pass
        for server in self._servers:
            await server.wait_closed()
