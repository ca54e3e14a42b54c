"""The access log: one JSON line per request, written without blocking the event loop.

The loop formats a line (one %-format; only the fields a client controls are
JSON-escaped) and appends it to a list. Every ``flush_interval_s`` (or when the
list grows long) the list is handed to a writer thread that joins, writes and
flushes it. When the writer falls more than ``max_pending_bytes`` behind
(a stalled disk or pipe), new batches are dropped and counted instead of
growing memory without bound. The query string is not logged (it may carry
credentials).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import queue
import sys
import threading
import time
from json.encoder import encode_basestring_ascii  # the C encoder when available
from typing import BinaryIO, Final, Protocol

from zonegate.node.context import RequestContext
from zonegate.node.http import Request

log = logging.getLogger("zonegate.node.access_log")

_BATCH_LINES: Final = 4096
_STOP: Final = None


def _pad3(n: int) -> str:
    """0 <= n < 1000 as three digits (``7`` -> ``007``)."""
    return str(n + 1000)[1:]


def _millis(seconds: float) -> str:
    """A duration in milliseconds with three decimals (``0.0015`` -> ``1.500``)."""
    micros = round(seconds * 1_000_000) if seconds > 0 else 0
    return f"{micros // 1000}.{_pad3(micros % 1000)}"


class AccessLogWriter:
    """Lines in, batches out to a file (or stdout for ``-``) on a writer thread."""

    def __init__(
        self, path: str, *, flush_interval_s: float = 0.2, max_pending_bytes: int = 64 << 20
    ) -> None:
        self.path = path
        self.flush_interval_s = flush_interval_s
        self.max_pending_bytes = max_pending_bytes
        self.lines: list[str] = []
        # Each counter is written by one thread only (loop: handed/dropped, writer: written).
        self.dropped_lines = 0
        self.written_lines = 0
        self.failed_lines = 0
        self._handed_bytes = 0
        self._written_bytes = 0
        self._queue: queue.SimpleQueue[list[str] | None] = queue.SimpleQueue()
        self._reopen = threading.Event()
        self._file = self._open()
        self._writer_thread = threading.Thread(
            target=self._write_loop, name="access-log", daemon=True
        )
        self._writer_thread.start()
        self._task: asyncio.Task[None] | None = None

    def _open(self) -> BinaryIO:
        if self.path == "-":
            return sys.stdout.buffer
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o640)
        return os.fdopen(fd, "ab")

    def start(self) -> None:
        """Start the periodic flush (needs a running loop)."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(
                self._flush_loop(), name="access-log-flush"
            )

    def write(self, line: str) -> None:
        lines = self.lines
        lines.append(line)
        if len(lines) >= _BATCH_LINES:
            self.flush()

    def flush(self) -> None:
        """Hand the buffered lines to the writer thread (never blocks)."""
        lines = self.lines
        if not lines:
            return
        self.lines = []
        if self.pending_bytes > self.max_pending_bytes:
            self.dropped_lines += len(lines)
            return
        self._handed_bytes += sum(map(len, lines))
        self._queue.put(lines)

    @property
    def pending_bytes(self) -> int:
        """Handed to the writer thread and not written yet."""
        return self._handed_bytes - self._written_bytes

    def reopen(self) -> None:
        """Reopen the file before the next write (after log rotation; SIGHUP)."""
        self._reopen.set()
        self._queue.put([])

    async def _flush_loop(self) -> None:
        while True:
            await asyncio.sleep(self.flush_interval_s)
            self.flush()

    def _write_loop(self) -> None:
        while True:
            batch = self._queue.get()
            if batch is _STOP:
                return
            if self._reopen.is_set():
                self._reopen.clear()
                self._swap_file()
            if not batch:
                continue
            data = "".join(batch)
            try:
                self._file.write(data.encode())
                self._file.flush()
                self.written_lines += len(batch)
            except (OSError, ValueError) as exc:
                self.failed_lines += len(batch)
                log.error("access_log_write_failed", extra={"path": self.path, "error": str(exc)})
            finally:
                self._written_bytes += len(data)

    def _swap_file(self) -> None:
        if self.path == "-":
            return
        try:
            new = self._open()
        except OSError as exc:
            log.error("access_log_reopen_failed", extra={"path": self.path, "error": str(exc)})
            return
        old, self._file = self._file, new
        old.close()

    async def close(self) -> None:
        """Write what is buffered, stop the thread, close the file."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self.flush()
        self._queue.put(_STOP)
        await asyncio.get_running_loop().run_in_executor(None, self._writer_thread.join)
        if self.path != "-":
            self._file.close()


class LineSink(Protocol):
    """Where access log lines go (an :class:`AccessLogWriter`)."""

    def write(self, line: str) -> None: ...


class AccessLog:
    """Formats the line of a finished request."""

    def __init__(self, writer: LineSink, node_id: str, zone: str) -> None:
        self.writer = writer
        self.node = encode_basestring_ascii(node_id)
        self.zone = encode_basestring_ascii(zone)
        self._second = -1
        self._stamp = ""

    def _time(self, wall: float) -> tuple[str, int]:
        second = int(wall)
        if second != self._second:
            self._second = second
            self._stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        return self._stamp, int((wall - second) * 1000)

    def log(self, ctx: RequestContext, req: Request, duration: float) -> None:
        # One f-string without format specs (compiled to a single string build, no
        # format-spec parsing); ids, names and codes are ASCII tokens the node made
        # or checked, the free-form fields are escaped.
        stamp, millis = self._time(ctx.start_wall)
        self.writer.write(
            f'{{"time":"{stamp}.{_pad3(millis)}Z","request_id":"{ctx.request_id}",'
            f'"trace_id":"{ctx.trace_id}","node":{self.node},"zone":{self.zone},'
            f'"client_ip":"{req.client_ip}","method":"{req.method}",'
            f'"path":{encode_basestring_ascii(req.path)},"route":"{ctx.route}",'
            f'"cluster":"{ctx.cluster}","upstream_host":{encode_basestring_ascii(ctx.upstream_host)},'
            f'"upstream_zone":{encode_basestring_ascii(ctx.upstream_zone)},"status":{ctx.status},'
            f'"bytes_sent":{ctx.bytes_sent},"duration_ms":{_millis(duration)},'
            f'"upstream_ms":{_millis(ctx.upstream_duration)},"attempts":{ctx.attempts},'
            f'"error":"{ctx.error_code}"}}\n'
        )
