"""A request body arriving from the client, read by the proxy with flow control."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from typing import Final

HIGH_WATER: Final = 256 * 1024
LOW_WATER: Final = 64 * 1024


class BodyStream:
    """Chunks of one request body; the client's reading pauses above the high-water mark."""

    __slots__ = (
        "_chunks",
        "_error",
        "_pause",
        "_paused",
        "_resume",
        "_waiter",
        "buffered",
        "complete",
        "expects_continue",
        "received",
    )

    def __init__(self, pause: Callable[[], None], resume: Callable[[], None]) -> None:
        self._chunks: deque[bytes] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._error: Exception | None = None
        self._pause = pause
        self._resume = resume
        self._paused = False
        self.buffered = 0
        self.received = 0
        self.complete = False
        self.expects_continue = False

    # --- producer side (the client connection) --------------------------------
    def feed(self, data: bytes) -> None:
        self._chunks.append(data)
        self.buffered += len(data)
        self.received += len(data)
        if self.buffered > HIGH_WATER and not self._paused:
            self._paused = True
            self._pause()
        self._wake()

    def finish(self) -> None:
        self.complete = True
        self._wake()

    def fail(self, exc: Exception) -> None:
        if not self.complete:
            self._error = exc
            self._wake()

    # --- consumer side (the proxy) ----------------------------------------------
    def take_all(self) -> bytes:
        """The whole body, when it has already fully arrived."""
        assert self.complete
        data = b"".join(self._chunks)
        self._chunks.clear()
        self.buffered = 0
        return data

    async def read(self) -> bytes:
        """Next chunk, or ``b""`` at the end of the body."""
        while not self._chunks:
            if self._error is not None:
                raise self._error
            if self.complete:
                return b""
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        chunk = self._chunks.popleft()
        self.buffered -= len(chunk)
        if self._paused and self.buffered < LOW_WATER:
            self._paused = False
            self._resume()
        return chunk

    @property
    def failed(self) -> Exception | None:
        return self._error

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
