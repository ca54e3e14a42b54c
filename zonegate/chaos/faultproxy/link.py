"""One direction of one proxied connection: source bytes -> toxic stages -> sink.

Without toxics a chunk is written straight to the sink (the fast path; flow
control is the sink's ``pause_writing`` pausing the source). With toxics the
chunks queue up (timestamped at read) and one task walks each chunk through
the stages in chain order, executing their actions: waiting until a piece's
time, dropping, holding, closing, resetting. A toxic added or removed while
the connection is open takes effect at once: a chunk waiting in a removed
toxic moves on immediately, as in Toxiproxy.
"""

from __future__ import annotations

import asyncio
import math
import random
from collections import deque
from typing import TYPE_CHECKING, Final

from zonegate.chaos.faultproxy.models import Stream, ToxicSpec
from zonegate.chaos.faultproxy.stages import (
    Close,
    Continue,
    Drop,
    Forward,
    Hold,
    Reset,
    Stage,
    build_stage,
)

if TYPE_CHECKING:
    from zonegate.chaos.faultproxy.connection import Connection, Side

PIPE_HIGH_WATER: Final = 256 * 1024  # bytes queued in the toxic chain before the source pauses
PIPE_LOW_WATER: Final = 64 * 1024
PAUSE_SINK_FULL: Final = 1
PAUSE_PIPE_FULL: Final = 2


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class DirectionLink:
    """Moves bytes from ``source`` to ``sink`` through this stream's toxics."""

    def __init__(self, conn: Connection, stream: Stream, source: Side, sink: Side) -> None:
        self.conn = conn
        self.stream = stream
        self.source = source
        self.sink = sink
        self.stages: list[Stage] = []
        self.direct = True  # no stages and nothing queued: write straight through
        self.eof_delivered = False
        self._eof_queued = False
        self._eof_closes = False
        self._dead = False
        self._queue: deque[tuple[bytes | None, float]] = deque()
        self._queued_bytes = 0
        self._task: asyncio.Task[None] | None = None
        self._wake: asyncio.Future[None] | None = None
        self._successors: dict[Stage, Stage | None] = {}
        self._timers: dict[Stage, asyncio.TimerHandle] = {}
        self._loop = asyncio.get_running_loop()

    @property
    def queued_bytes(self) -> int:
        """Bytes read from the source and not yet written to the sink (toxic path only)."""
        return self._queued_bytes

    # --- input from the source side -----------------------------------------
    def feed(self, data: bytes) -> None:
        if self.direct:
            self.sink.write(data)
            return
        if self._dead:
            return
        self._queue.append((data, self._loop.time()))
        self._queued_bytes += len(data)
        if self._queued_bytes > PIPE_HIGH_WATER:
            self.source.pause(PAUSE_PIPE_FULL)
        self._ensure_task()

    def feed_eof(self, *, close: bool = False) -> None:
        """The source ended; ``close``: it failed, so close rather than half-close."""
        if self._dead:
            return
        if self.eof_delivered:
            self.conn.close()
            return
        self._eof_closes = self._eof_closes or close
        if self._eof_queued:
            return
        self._eof_queued = True
        if self.direct:
            self._deliver_eof()
            return
        self._queue.append((None, self._loop.time()))
        self._ensure_task()

    def stop(self) -> None:
        """The connection is closing: drop everything, stop the task and timers."""
        self._dead = True
        self.direct = False
        self._queue.clear()
        for handle in self._timers.values():
            handle.cancel()
        self._timers.clear()
        task = self._task
        if task is not None and task is not asyncio.current_task():
            task.cancel()

    # --- chain changes ---------------------------------------------------------
    def add_toxic(self, spec: ToxicSpec, rng: random.Random) -> None:
        if self._dead:
            return
        stage = build_stage(spec, rng)
        self.stages.append(stage)
        self.direct = False
        self._arm(stage)

    def update_toxic(self, spec: ToxicSpec, rng: random.Random) -> None:
        for stage in self.stages:
            if stage.spec.name == spec.name:
                stage.update(spec, rng)
                self._arm(stage)
                self._changed()
                return

    def remove_toxic(self, name: str) -> None:
        matches = [i for i, stage in enumerate(self.stages) if stage.spec.name == name]
        if not matches:
            return
        index = matches[0]
        stage = self.stages.pop(index)
        self._successors[stage] = self.stages[index] if index < len(self.stages) else None
        stage.removed = True
        handle = self._timers.pop(stage, None)
        if handle is not None:
            handle.cancel()
        if stage.closes_on_removal:
            self.conn.close()
            return
        self._changed()
        self._maybe_direct()

    def _arm(self, stage: Stage) -> None:
        old = self._timers.pop(stage, None)
        if old is not None:
            old.cancel()
        now = self._loop.time()
        deadline = stage.close_deadline(now)
        if deadline is not None:
            self._timers[stage] = self._loop.call_at(deadline, self.conn.close)

    def _changed(self) -> None:
        if self._wake is not None:
            _wake(self._wake)

    def _maybe_direct(self) -> None:
        if not self.stages and self._task is None and not self._queue and not self._dead:
            self.direct = True

    # --- the chain walker --------------------------------------------------------
    def _ensure_task(self) -> None:
        if self._task is None:
            self._task = self._loop.create_task(self._run(), name=f"faultproxy-{self.stream}")

    async def _run(self) -> None:
        try:
            while self._queue and not self._dead:
                data, read_at = self._queue[0]
                if data is None:
                    await self._walk_eof()
                else:
                    await self._walk(self._first(), data, read_at)
                if self._dead:
                    return
                self._queue.popleft()
                if data is not None:
                    self._queued_bytes -= len(data)
                    if self._queued_bytes <= PIPE_LOW_WATER:
                        self.source.resume(PAUSE_PIPE_FULL)
        finally:
            self._task = None
            self._maybe_direct()

    def _first(self) -> Stage | None:
        return self.stages[0] if self.stages else None

    def _after(self, stage: Stage) -> Stage | None:
        """The stage after ``stage`` in the live chain (even if ``stage`` was removed meanwhile)."""
        if stage in self.stages:
            index = self.stages.index(stage) + 1
            return self.stages[index] if index < len(self.stages) else None
        successor = self._successors.get(stage)
        while successor is not None and successor not in self.stages:
            successor = self._successors.get(successor)
        return successor

    async def _sleep_until(self, at: float, stage: Stage) -> bool:
        """Wait until ``at`` (inf: forever); False as soon as ``stage`` is removed."""
        while not stage.removed:
            delay = at - self._loop.time()
            if delay <= 0:
                return True
            wake = self._loop.create_future()
            self._wake = wake
            handle = self._loop.call_later(delay, _wake, wake) if math.isfinite(delay) else None
            try:
                await wake
            finally:
                if handle is not None:
                    handle.cancel()
                self._wake = None
        return False

    async def _walk(self, stage: Stage | None, data: bytes, read_at: float) -> None:
        while stage is not None:
            action = stage.on_data(data, read_at, self._loop.time())
            if isinstance(action, Forward):
                for piece, not_before in action.pieces:
                    await self._sleep_until(not_before, stage)
                    await self._walk(self._after(stage), piece, read_at)
                    if self._dead:
                        return
                if action.close_after:
                    self.conn.close()
                return
            if isinstance(action, Hold):
                await self._sleep_until(math.inf, stage)
            elif isinstance(action, Reset):
                if await self._sleep_until(action.at, stage):
                    self.conn.reset()
                return
            elif isinstance(action, Close):
                self.conn.close()
                return
            elif isinstance(action, Drop):
                return
            stage = self._after(stage)
        await self._write(data)

    async def _walk_eof(self) -> None:
        stage = self._first()
        while stage is not None:
            action = stage.on_eof(self._loop.time())
            if isinstance(action, Reset):
                if await self._sleep_until(action.at, stage):
                    self.conn.reset()
                    return
            elif isinstance(action, Continue):
                await self._sleep_until(action.at, stage)
            stage = self._after(stage)
        self._deliver_eof()

    async def _write(self, data: bytes) -> None:
        if self.sink.write_paused:
            await self.sink.wait_writable()
        if not self._dead:
            self.sink.write(data)

    def _deliver_eof(self) -> None:
        self.eof_delivered = True
        if self._eof_closes or self.conn.other(self).eof_delivered or not self.sink.write_eof():
            self.conn.close()
