"""Traffic mirroring: copies of requests sent fire-and-forget to a shadow cluster.

The real request never waits for, or fails because of, its shadow: the copy
is sent from its own task after the real request head was built, its answer
is read and thrown away (never buffered), and it is abandoned at its own
timeout. Copies are skipped (and counted) when the route already has
``max_concurrent`` copies in flight, when the body is larger than
``max_body_bytes`` or still streaming from the client, or when the shadow
cluster has no available host. Copies carry ``X-Zonegate-Shadow: 1``.

Outcomes are counted by (route, shadow cluster, outcome): ``2xx``..``5xx``,
a local error code (``upstream_connect_failed``, ``upstream_timeout`` ...), or
``skipped_concurrency`` / ``skipped_body`` / ``skipped_no_host``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from zonegate import conventions as cv
from zonegate.node.delivery.routing import RouteMirror
from zonegate.node.errors import UpstreamError
from zonegate.node.upstream.cluster import UpstreamCluster
from zonegate.node.upstream.connection import UpstreamConnection
from zonegate.node.upstream.host import Host

log = logging.getLogger("zonegate.node.mirror")
SHADOW_LINE = b"%b: 1\r\n" % cv.HEADER_SHADOW.encode()
SKIPPED_CONCURRENCY = "skipped_concurrency"
SKIPPED_BODY = "skipped_body"
SKIPPED_NO_HOST = "skipped_no_host"


class _Discard:
    """A response sink that drops everything (the shadow's answer)."""

    __slots__ = ()

    def write(self, data: bytes) -> None:
        return None

    def pause_source(self, pause: Callable[[], None], resume: Callable[[], None]) -> None:
        return None


_DISCARD = _Discard()


def shadow_head(head: bytes) -> bytes:
    """The upstream request head with the shadow marker added."""
    return head[:-2] + SHADOW_LINE + b"\r\n"


class ShadowSender:
    """Sends and tracks every shadow copy of one node."""

    def __init__(self) -> None:
        self.tasks: set[asyncio.Task[None]] = set()
        self.in_flight: dict[str, int] = {}
        self.counts: dict[tuple[str, str, str], int] = {}
        self._closed = False

    def count(self, route: str, cluster: str, outcome: str) -> None:
        key = (route, cluster, outcome)
        self.counts[key] = self.counts.get(key, 0) + 1

    def mirror(
        self,
        policy: RouteMirror,
        cluster: UpstreamCluster | None,
        head: bytes,
        body: bytes | None,
        *,
        head_only: bool = False,
    ) -> bool:
        """Start a copy of a request if its sample is due; True when one was started.

        ``head`` is the upstream request head as sent to the real cluster; ``body``
        the whole body (``None`` while it is still streaming: not mirrored).
        """
        if self._closed or not policy.due():
            return False
        route, name, cfg = policy.route, policy.cluster, policy.cfg
        if body is None or len(body) > cfg.max_body_bytes:
            self.count(route, name, SKIPPED_BODY)
            return False
        in_flight = self.in_flight.get(route, 0)
        if in_flight >= cfg.max_concurrent:
            self.count(route, name, SKIPPED_CONCURRENCY)
            return False
        host = cluster.pick(None) if cluster is not None else None
        if cluster is None or host is None:
            self.count(route, name, SKIPPED_NO_HOST)
            return False
        self.in_flight[route] = in_flight + 1
        data = shadow_head(head) + body
        task = asyncio.get_running_loop().create_task(
            self._send(route, cluster, host, data, head_only, cfg.timeout_s),
            name=f"shadow-{route}",
        )
        self.tasks.add(task)
        task.add_done_callback(self._done_callback(route))
        return True

    def _done_callback(self, route: str) -> Callable[[asyncio.Task[None]], None]:
        def done(task: asyncio.Task[None]) -> None:
            self.tasks.discard(task)
            self.in_flight[route] = self.in_flight.get(route, 1) - 1

        return done

    async def _send(
        self,
        route: str,
        cluster: UpstreamCluster,
        host: Host,
        data: bytes,
        head_only: bool,
        timeout_s: float,
    ) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        conn: UpstreamConnection | None = None
        try:
            pool = cluster.pool
            conn = pool.take_idle(host.address)
            if conn is None:
                connect_timeout = min(cluster.cfg.connect_timeout_s, timeout_s)
                conn = await pool.connect(host.host, host.port, connect_timeout, host.address)
            conn.arm_timeout(deadline)
            await conn.send(data, head_only=head_only)
            conn.forward(_DISCARD, b"", chunked=False)
            await conn.done
            conn.disarm_timeout()
            conn.finish_forward()
            pool.release(conn)
            outcome = cv.status_class(conn.status)
        except UpstreamError as exc:
            outcome = exc.code
            if conn is not None:
                conn.abort()
        except asyncio.CancelledError:
            if conn is not None:
                conn.abort()
            raise
        except Exception as exc:  # a shadow must never take anything else down
            log.warning("shadow_failed", extra={"route": route, "error": repr(exc)})
            outcome = "internal_error"
            if conn is not None:
                conn.abort()
        self.count(route, cluster.name, outcome)

    async def close(self) -> None:
        """Stop sending; abandon the copies in flight."""
        self._closed = True
        tasks = list(self.tasks)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def wait_idle(self, timeout: float) -> bool:
        """Wait until no copy is in flight (tests, drains); True when that happened."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self.tasks:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            await asyncio.wait(list(self.tasks), timeout=remaining)
        return True
