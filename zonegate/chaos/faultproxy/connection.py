"""A proxied TCP connection: the client side, the upstream side and the two links between them.

``upstream`` (client -> server) and ``downstream`` (server -> client) are
:class:`DirectionLink` s. An end of stream is passed on as a half-close; the
connection closes when both directions have ended, when a toxic closes it,
or when either side fails. :meth:`Connection.reset` closes both sockets with
``SO_LINGER`` 0, so both peers see a TCP RST (``ECONNRESET``).
"""

from __future__ import annotations

import asyncio
import logging
import socket
import struct
from collections.abc import Callable
from typing import TYPE_CHECKING, Final, cast

from zonegate.chaos.faultproxy.link import PAUSE_SINK_FULL, DirectionLink
from zonegate.chaos.faultproxy.models import Stream

if TYPE_CHECKING:
    from zonegate.chaos.faultproxy.proxy import ProxyRuntime

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S: Final = 10.0
CLOSE_GRACE_S: Final = 5.0  # a graceful close that cannot flush by then is aborted
PAUSE_CONNECTING: Final = 4
_LINGER_RESET: Final = struct.pack("ii", 1, 0)


def _ignore(_data: bytes) -> None:
    return None


class Side(asyncio.Protocol):
    """One socket of a proxied connection."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.conn: Connection | None = None
        self.reader: DirectionLink | None = None  # the link this side's bytes feed
        self.writer: DirectionLink | None = None  # the link that writes into this side
        self.write: Callable[[bytes], None] = _ignore
        self.write_paused = False
        self._paused = 0
        self._drain: asyncio.Future[None] | None = None

    # --- asyncio.Protocol ------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        self.write = self.transport.write

    def data_received(self, data: bytes) -> None:
        if self.reader is not None:
            self.reader.feed(data)

    def eof_received(self) -> bool:
        if self.reader is not None:
            self.reader.feed_eof()
        return True  # keep our sending half open until the other direction ends

    def pause_writing(self) -> None:
        self.write_paused = True
        if self.writer is not None:
            self.writer.source.pause(PAUSE_SINK_FULL)

    def resume_writing(self) -> None:
        self.write_paused = False
        if self.writer is not None:
            self.writer.source.resume(PAUSE_SINK_FULL)
        if self._drain is not None and not self._drain.done():
            self._drain.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        self.write = _ignore
        if self._drain is not None and not self._drain.done():
            self._drain.set_result(None)
        if self.conn is not None:
            self.conn.side_lost(self)

    # --- used by the links ----------------------------------------------------------
    def pause(self, reason: int) -> None:
        if not self._paused and self.transport is not None and not self.transport.is_closing():
            self.transport.pause_reading()
        self._paused |= reason

    def resume(self, reason: int) -> None:
        if not self._paused & reason:
            return
        self._paused &= ~reason
        if not self._paused and self.transport is not None and not self.transport.is_closing():
            self.transport.resume_reading()

    async def wait_writable(self) -> None:
        if self.write_paused:
            self._drain = asyncio.get_running_loop().create_future()
            await self._drain

    def write_eof(self) -> bool:
        """Half-close our sending direction; False if the transport cannot."""
        transport = self.transport
        if transport is None or transport.is_closing() or not transport.can_write_eof():
            return False
        transport.write_eof()
        return True

    def close(self, *, abort: bool = False, reset: bool = False) -> None:
        transport = self.transport
        if transport is None:
            return
        if reset:
            sock = transport.get_extra_info("socket")
            if sock is not None:
                try:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RESET)
                except OSError:
                    pass
        if abort or reset:
            transport.abort()
        elif not transport.is_closing():
            transport.close()


class ClientSide(Side):
    """An accepted client: reading waits until the upstream connection is up."""

    def __init__(self, proxy: ProxyRuntime) -> None:
        super().__init__()
        self.proxy = proxy
        self.connecting: asyncio.Task[None] | None = None
        # Bytes (and an EOF) that arrive before the upstream is connected: uvloop may
        # deliver data even though reading was paused in connection_made.
        self._early: list[bytes] = []
        self._early_eof = False

    def data_received(self, data: bytes) -> None:
        if self.reader is None:
            self._early.append(data)
            self.pause(PAUSE_CONNECTING)
        else:
            self.reader.feed(data)

    def eof_received(self) -> bool:
        if self.reader is None:
            self._early_eof = True
            return True
        return super().eof_received()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self.pause(PAUSE_CONNECTING)
        self.connecting = asyncio.get_running_loop().create_task(
            self._connect_upstream(), name=f"faultproxy-connect-{self.proxy.name}"
        )
        self.proxy.track_pending(self)

    async def _connect_upstream(self) -> None:
        loop = asyncio.get_running_loop()
        target = self.proxy.upstream_address
        try:
            async with asyncio.timeout(CONNECT_TIMEOUT_S):
                _, upstream = await loop.create_connection(Side, target.host, target.port)
        except (OSError, TimeoutError) as exc:
            log.warning(
                "faultproxy_upstream_connect_failed proxy=%s upstream=%s error=%s",
                self.proxy.name,
                target,
                exc,
            )
            self.close()
            return
        finally:
            self.connecting = None
            self.proxy.untrack_pending(self)
        if self.transport is None or self.transport.is_closing():
            upstream.close()
            return
        conn = Connection(self, upstream)
        self.proxy.connection_opened(conn)
        link = conn.links[Stream.UPSTREAM]
        for data in self._early:
            link.feed(data)
        self._early.clear()
        if self._early_eof:
            link.feed_eof()
        self.resume(PAUSE_CONNECTING)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.connecting is not None:
            self.connecting.cancel()
        super().connection_lost(exc)


class Connection:
    """A client and an upstream socket joined by an ``upstream`` and a ``downstream`` link."""

    def __init__(self, client: ClientSide, upstream: Side) -> None:
        self.proxy = client.proxy
        self.client = client
        self.upstream = upstream
        self.closed = False
        self._grace: asyncio.TimerHandle | None = None
        self.links = {
            Stream.UPSTREAM: DirectionLink(self, Stream.UPSTREAM, client, upstream),
            Stream.DOWNSTREAM: DirectionLink(self, Stream.DOWNSTREAM, upstream, client),
        }
        for side, reader, writer in (
            (client, Stream.UPSTREAM, Stream.DOWNSTREAM),
            (upstream, Stream.DOWNSTREAM, Stream.UPSTREAM),
        ):
            side.conn = self
            side.reader = self.links[reader]
            side.writer = self.links[writer]

    def other(self, link: DirectionLink) -> DirectionLink:
        return self.links[Stream.DOWNSTREAM if link.stream is Stream.UPSTREAM else Stream.UPSTREAM]

    def side_lost(self, side: Side) -> None:
        """A socket went away (error, or our own close)."""
        if self.closed:
            if (
                self._grace is not None
                and self.client.write is _ignore
                and (self.upstream.write is _ignore)
            ):
                self._grace.cancel()
            return
        if side.writer is not None:
            side.writer.stop()
        if side.reader is not None:
            side.reader.feed_eof(close=True)

    def _finish(self) -> bool:
        if self.closed:
            return False
        self.closed = True
        for link in self.links.values():
            link.stop()
        self.proxy.connection_closed(self)
        return True

    def close(self) -> None:
        """Graceful: both sockets flush what they hold, then FIN."""
        if self._finish():
            self.client.close()
            self.upstream.close()
            self._grace = asyncio.get_running_loop().call_later(CLOSE_GRACE_S, self.abort_now)

    def abort(self) -> None:
        """Immediate close of both sockets (the proxy was disabled or deleted)."""
        if self._finish():
            self.abort_now()

    def abort_now(self) -> None:
        self.client.close(abort=True)
        self.upstream.close(abort=True)

    def reset(self) -> None:
        """TCP RST to both peers (``reset_peer``)."""
        if self._finish():
            self.client.close(reset=True)
            self.upstream.close(reset=True)
