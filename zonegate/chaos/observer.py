"""Watches the cluster while a drill runs: node health and zone transitions from every
GLB's ``/status``, and which etcd member leads (``etcd_server_is_leader`` in ``/metrics``).

Produces :class:`~zonegate.chaos.analysis.HealthEvent` s with wall-clock times:
a node's health flip is stamped when a poll first sees it (within one poll
interval of the truth); a zone transition carries the GLB's own timestamp.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import Any

import aiohttp

from zonegate.chaos.analysis import ETCD_LEADER, NODE_DOWN, NODE_UP, HealthEvent

STATUS_TIMEOUT_S = 0.5


def node_health(status: dict[str, Any]) -> dict[str, tuple[str, bool]]:
    """``/status`` -> node id -> (zone, healthy)."""
    out: dict[str, tuple[str, bool]] = {}
    zones = status.get("zones") or {}
    for zone, info in zones.items():
        for node in info.get("nodes") or []:
            out[str(node.get("id"))] = (str(zone), bool(node.get("healthy")))
    return out


def status_events(
    source: str,
    status: dict[str, Any],
    previous: dict[str, tuple[str, bool]] | None,
    seen_transitions: set[tuple[float, str, str]],
    now: float,
) -> tuple[list[HealthEvent], dict[str, tuple[str, bool]]]:
    """Events from one poll of a GLB's ``/status`` compared with the previous poll."""
    events: list[HealthEvent] = []
    health = node_health(status)
    if previous is not None:
        for node, (_zone, healthy) in health.items():
            before = previous.get(node)
            if before is not None and before[1] != healthy:
                events.append(HealthEvent(now, NODE_UP if healthy else NODE_DOWN, node, source))
    for item in status.get("transitions") or []:
        key = (float(item.get("at", 0.0)), str(item.get("zone")), str(item.get("event")))
        if key in seen_transitions:
            continue
        seen_transitions.add(key)
        if previous is not None:  # transitions from before the drill are history
            events.append(HealthEvent(key[0], f"zone_{key[2]}", key[1], source))
    return events, health


class ClusterObserver:
    """Polls GLB admin ``/status`` (every ``interval_s``) and etcd leadership."""

    def __init__(
        self,
        glb_admin_urls: list[str],
        etcd_urls: dict[str, str],
        *,
        interval_s: float = 0.05,
        etcd_interval_s: float = 0.2,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.glb_admin_urls = glb_admin_urls
        self.etcd_urls = etcd_urls
        self.interval_s = interval_s
        self.etcd_interval_s = etcd_interval_s
        self.clock = clock
        self.events: list[HealthEvent] = []
        self.latest: dict[str, dict[str, Any]] = {}
        self.leader = ""
        self._tasks: list[asyncio.Task[None]] = []
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=STATUS_TIMEOUT_S))
        for url in self.glb_admin_urls:
            self._tasks.append(asyncio.create_task(self._poll_glb(url), name=f"observe-{url}"))
        if self.etcd_urls:
            self._tasks.append(asyncio.create_task(self._poll_etcd(), name="observe-etcd"))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def fetch_status(self, url: str) -> dict[str, Any] | None:
        assert self._session is not None
        try:
            async with self._session.get(f"{url.rstrip('/')}/status") as response:
                if response.status != 200:
                    return None
                data = await response.json(content_type=None)
                return data if isinstance(data, dict) else None
        except (aiohttp.ClientError, TimeoutError, ValueError, OSError):
            return None

    async def _poll_glb(self, url: str) -> None:
        previous: dict[str, tuple[str, bool]] | None = None
        seen: set[tuple[float, str, str]] = set()
        while True:
            status = await self.fetch_status(url)
            if status is not None:
                events, previous = status_events(url, status, previous, seen, self.clock())
                self.events.extend(events)
                self.latest[url] = status
            await asyncio.sleep(self.interval_s)

    async def _is_leader(self, url: str) -> bool:
        assert self._session is not None
        try:
            async with self._session.get(f"{url.rstrip('/')}/metrics") as response:
                body = await response.text()
        except (aiohttp.ClientError, TimeoutError, OSError):
            return False
        return "\netcd_server_is_leader 1" in body

    async def _poll_etcd(self) -> None:
        names = list(self.etcd_urls)
        while True:
            results = await asyncio.gather(*(self._is_leader(self.etcd_urls[n]) for n in names))
            leader = next((n for n, is_leader in zip(names, results, strict=True) if is_leader), "")
            if leader != self.leader:
                self.events.append(HealthEvent(self.clock(), ETCD_LEADER, leader, "etcd"))
                self.leader = leader
            await asyncio.sleep(self.etcd_interval_s)

    def routing_shares(self) -> dict[str, float]:
        """The first GLB's current routing shares of its default region (for the live view)."""
        for status in self.latest.values():
            routing = status.get("routing") or {}
            for info in routing.values():
                return {str(z): float(s) for z, s in (info.get("shares") or {}).items()}
        return {}
