"""One keep-alive HTTP/1.1 connection to an upstream host (asyncio protocol + httptools).

The connection parses the response with llhttp. Until the proxy decides to
forward the response (after retries and response filters), body bytes are
held; once forwarding starts they are written straight to the client's
transport from the parser callback, with flow control both ways.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Final, Protocol, cast

import httptools

from zonegate.node.errors import BadUpstreamResponse, UpstreamReset, UpstreamTimeout
from zonegate.node.http import Headers

_CRLF: Final = b"\r\n"
_LAST_CHUNK: Final = b"0\r\n\r\n"


IDLE: Final = 0
AWAIT_HEAD: Final = 1
BODY: Final = 2
DONE: Final = 3


def _not_connected(data: bytes) -> None:
    raise RuntimeError("upstream connection is not connected yet")


class ExchangeListener(Protocol):
    """Callbacks of an exchange started with :meth:`UpstreamConnection.send_to`."""

    def upstream_head(self, conn: UpstreamConnection) -> None: ...

    def upstream_done(self, conn: UpstreamConnection) -> None: ...

    def upstream_failed(self, conn: UpstreamConnection, exc: Exception) -> None: ...


class ResponseSink(Protocol):
    """Where a forwarded response body goes (the client connection)."""

    def write(self, data: bytes) -> None: ...

    def pause_source(self, pause: Callable[[], None], resume: Callable[[], None]) -> None:
        """Register how to pause/resume the upstream when the client is slow."""


class UpstreamConnection(asyncio.Protocol):
    """A pooled connection. One request at a time."""

    __slots__ = (
        "_body_chunks",
        "_deadline",
        "_done",
        "_drain",
        "_head",
        "_headers",
        "_listener",
        "_loop",
        "_parser",
        "_pending_head",
        "_phase",
        "_reading_paused",
        "_sink",
        "_sink_chunked",
        "_tail_pending",
        "_timer",
        "_timer_at",
        "_transport_write",
        "bytes_received",
        "closed",
        "head_only",
        "keep_alive",
        "key",
        "last_used",
        "on_close",
        "reused",
        "status",
        "transport",
    )

    def __init__(self, loop: asyncio.AbstractEventLoop, key: str) -> None:
        self._loop = loop
        self.key = key
        self.transport: asyncio.Transport | None = None
        self._parser = httptools.HttpResponseParser(self)
        self._headers: Headers = []
        self._head: asyncio.Future[None] | None = None
        self._done: asyncio.Future[None] | None = None
        self._listener: ExchangeListener | None = None
        #: IDLE, then AWAIT_HEAD after a request was sent, BODY once the head is in, DONE.
        self._phase = IDLE
        self._drain: asyncio.Future[None] | None = None
        self._body_chunks: list[bytes] = []
        self._sink: ResponseSink | None = None
        self._sink_chunked = False
        self._tail_pending = False
        self._pending_head = b""
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0
        self._transport_write: Callable[[bytes], object] = _not_connected
        self._deadline = 0.0
        self._reading_paused = False
        self.status = 0
        self.keep_alive = False
        self.closed = False
        self.head_only = False
        self.reused = False
        self.last_used = 0.0
        self.bytes_received = 0
        self.on_close: Callable[[UpstreamConnection], None] | None = None

    # --- asyncio protocol ------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        self._transport_write = self.transport.write  # bound once, called per request

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(BadUpstreamResponse(f"malformed upstream response: {exc}"))
            self.close()

    def eof_received(self) -> bool | None:
        # A close-delimited body ends here; tell llhttp so it completes the message.
        try:
            self._parser.feed_data(b"")
        except httptools.HttpParserError:
            pass
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._phase == BODY and self._message_ends_on_close():
            self._complete()
        elif self._phase in (AWAIT_HEAD, BODY):
            self._fail(UpstreamReset("upstream closed the connection"))
        if self._drain is not None and not self._drain.done():
            self._drain.set_result(None)
        self._cancel_timer()
        if self.on_close is not None:
            self.on_close(self)

    def pause_writing(self) -> None:
        if self._drain is None or self._drain.done():
            self._drain = self._loop.create_future()

    def resume_writing(self) -> None:
        if self._drain is not None and not self._drain.done():
            self._drain.set_result(None)

    # --- llhttp callbacks ---------------------------------------------------
    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name.lower(), value))

    def on_headers_complete(self) -> None:
        self.status = self._parser.get_status_code()
        if 100 <= self.status < 200 and self.status != 101:
            # Interim response (100 Continue to our Expect-less request): ignore it.
            self._headers = []
            return
        self._phase = BODY
        if self._head is not None:
            if not self._head.done():
                self._head.set_result(None)
        elif self._listener is not None:
            self._listener.upstream_head(self)
        if self.head_only and self._phase == BODY:
            # HEAD responses carry a Content-Length but no body; llhttp cannot be
            # told, so finish here and use a fresh parser for the next response.
            self.keep_alive = self._parser.should_keep_alive()
            self._parser = httptools.HttpResponseParser(self)
            self._complete()

    def on_body(self, body: bytes) -> None:
        self.bytes_received += len(body)
        sink = self._sink
        if sink is None:
            self._body_chunks.append(body)
            return
        if self._sink_chunked:
            body = b"%x\r\n%b\r\n" % (len(body), body)
        if self._pending_head:
            # The head goes out with the first body bytes: one write, one segment.
            body = self._pending_head + body
            self._pending_head = b""
        sink.write(body)

    def on_message_complete(self) -> None:
        if self.head_only:
            return
        self.keep_alive = self._parser.should_keep_alive()
        self._complete()

    # --- used by the proxy ------------------------------------------------------
    def _reset(self, head_only: bool) -> None:
        self._headers = []
        self._body_chunks = []
        self._sink = None
        self._pending_head = b""
        self.status = 0
        self.bytes_received = 0
        self.keep_alive = False
        self.head_only = head_only
        self._phase = AWAIT_HEAD

    def send(self, data: bytes, *, head_only: bool) -> asyncio.Future[None]:
        """Write a request; returns the future of the response head (``done`` follows)."""
        self._reset(head_only)
        self._listener = None
        self._head = self._loop.create_future()
        self._done = self._loop.create_future()
        self._transport_write(data)
        return self._head

    def send_to(self, data: bytes, *, head_only: bool, listener: ExchangeListener) -> None:
        """Write a request; ``listener`` is called back for the head, the end or a failure.

        No futures and no task wake-ups: the fast path of the proxy runs the whole
        exchange inside the protocol callbacks.
        """
        self._reset(head_only)
        self._head = self._done = None
        self._listener = listener
        self._transport_write(data)

    def write(self, data: bytes) -> None:
        self._transport_write(data)

    async def drain(self) -> None:
        if self._drain is not None and not self._drain.done():
            await self._drain

    @property
    def response_headers(self) -> Headers:
        return self._headers

    @property
    def done(self) -> asyncio.Future[None]:
        assert self._done is not None
        return self._done

    def forward(self, sink: ResponseSink, head: bytes, *, chunked: bool) -> None:
        """Send the head and the body so far to ``sink``; stream the rest as it comes.

        When no body byte is here yet the head waits for the first one (or the
        end of the message), so a small response leaves in a single write.
        """
        self._sink = sink
        self._sink_chunked = chunked
        self._tail_pending = chunked
        sink.pause_source(self.pause_reading, self.resume_reading)
        chunks = self._body_chunks
        if not chunks and self._phase != DONE:
            self._pending_head = head
            return
        if chunked:
            out = [head] + [b"%x\r\n%b\r\n" % (len(c), c) for c in chunks]
        else:
            out = [head, *chunks]
        self._body_chunks = []
        if chunked and self._phase == DONE:
            out.append(_LAST_CHUNK)
            self._tail_pending = False
        sink.write(b"".join(out) if len(out) > 1 else out[0])

    def finish_forward(self) -> None:
        """Called once the response is complete: write what is still held back."""
        sink = self._sink
        if sink is not None:
            out = self._pending_head
            if self._tail_pending:
                out += _LAST_CHUNK
            if out:
                sink.write(out)
        self._pending_head = b""
        self._tail_pending = False
        self._sink = None

    def pause_reading(self) -> None:
        if self.transport is not None and not self._reading_paused:
            self._reading_paused = True
            self.transport.pause_reading()

    def resume_reading(self) -> None:
        if self.transport is not None and self._reading_paused:
            self._reading_paused = False
            self.transport.resume_reading()

    def detach(self) -> None:
        """Stop calling the listener back (the exchange was abandoned)."""
        self._listener = None
        self._phase = DONE

    def arm_timeout(self, when: float) -> None:
        """Fail the exchange with :class:`UpstreamTimeout` at loop time ``when``.

        The timer is lazy: a pending one that fires no later than ``when`` is
        kept and, when it fires, re-armed for the deadline current then. So the
        usual exchange (same route timeout as the last one) only stores a
        number, and a connection makes a new timer about once per timeout.
        """
        self._deadline = when
        timer = self._timer
        if timer is not None:
            if self._timer_at <= when:
                return
            timer.cancel()
        self._timer_at = when
        self._timer = self._loop.call_at(when, self._timer_fired)

    def disarm_timeout(self) -> None:
        self._deadline = 0.0  # a pending timer finds nothing armed and goes away

    def _cancel_timer(self) -> None:
        self._deadline = 0.0
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _timer_fired(self) -> None:
        self._timer = None
        deadline = self._deadline
        if not deadline:
            return
        if self._loop.time() + 0.001 < deadline:  # armed again for later since
            self._timer_at = deadline
            self._timer = self._loop.call_at(deadline, self._timer_fired)
            return
        self._deadline = 0.0
        self._fail(UpstreamTimeout("upstream did not answer in time"))

    def close(self) -> None:
        self._cancel_timer()
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    def abort(self) -> None:
        self._cancel_timer()
        self.closed = True
        if self.transport is not None:
            self.transport.abort()

    # --- internals --------------------------------------------------------------
    def _message_ends_on_close(self) -> bool:
        for name, _ in self._headers:
            if name in (b"content-length", b"transfer-encoding"):
                return False
        return True

    def _complete(self) -> None:
        if self._phase == DONE:
            return
        self._phase = DONE
        if self._done is not None:
            if not self._done.done():
                self._done.set_result(None)
        elif self._listener is not None:
            listener, self._listener = self._listener, None
            listener.upstream_done(self)

    def _fail(self, exc: Exception) -> None:
        if self._phase not in (AWAIT_HEAD, BODY):
            return
        self._phase = DONE
        for fut in (self._head, self._done):
            if fut is not None and not fut.done():
                fut.set_exception(exc)
                # The head waiter reports it; don't warn about an unretrieved one.
                fut.exception()
        if self._listener is not None:
            listener, self._listener = self._listener, None
            listener.upstream_failed(self, exc)
