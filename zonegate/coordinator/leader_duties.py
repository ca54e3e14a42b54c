"""What the leader does while it leads, every ``interval`` seconds.

- publish the cluster summary (``summary`` key: zones, node counts, config
  convergence, services, leader) that ``zonegate status`` and the GLB read;
- remove stale keys: rate-limit counters of windows long past, and old drill
  annotations (beyond the retention or the newest ``max_events``);
- run any extra duties given (the global rate limiter adds its own).

Every write is fenced with the leader's token (:meth:`Election.leader_txn`):
if leadership moved on, etcd refuses it and this process stops acting.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from zonegate.coordinator.election import Election
from zonegate.coordinator.errors import EtcdUnavailableError, NotLeaderError
from zonegate.coordinator.etcd_types import Delete, Put
from zonegate.coordinator.records import NodeInfo, ServiceEndpoint
from zonegate.coordinator.summary import build_summary, stale_event_keys, stale_ratelimit_keys
from zonegate.coordinator.tasks import cancel_and_wait

log = logging.getLogger(__name__)
Duty = Callable[[], Awaitable[None]]
TXN_MAX_OPS = 100  # etcd refuses more than 128 operations per transaction by default


class LeaderDuties:
    def __init__(
        self,
        election: Election,
        *,
        interval: float = 1.0,
        ratelimit_grace_s: float = 60.0,
        event_retention_s: float = 7 * 86400.0,
        max_events: int = 1000,
        duties: Sequence[Duty] = (),
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.election = election
        self.client = election.client
        self.keys = election.keys
        self.interval = interval
        self.ratelimit_grace_ms = int(ratelimit_grace_s * 1000)
        self.event_retention_ms = int(event_retention_s * 1000)
        self.max_events = max_events
        self.duties = list(duties)
        self.wall_clock = wall_clock
        self.rounds = 0
        self.last_summary: dict[str, Any] | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self.run(), name="leader-duties")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            await cancel_and_wait(task)

    async def run(self) -> None:
        while True:
            await self.election.wait_until_leader()
            try:
                await self.run_once()
            except NotLeaderError as exc:
                log.warning("leader_duties_stopped: %s", exc)
            except EtcdUnavailableError as exc:
                log.debug("leader_duties_failed: %s", exc)
            await asyncio.sleep(self.interval)

    async def run_once(self) -> None:
        await self.publish_summary()
        await self.remove_stale()
        for duty in self.duties:
            await duty()
        self.rounds += 1

    async def publish_summary(self) -> dict[str, Any]:
        nodes = await self.client.get_prefix(self.keys.nodes_prefix)
        services = await self.client.get_prefix(self.keys.services_prefix)
        config = await self.client.get(self.keys.config)
        summary = build_summary(
            _parsed(nodes.kvs, NodeInfo.from_json),
            _parsed(services.kvs, ServiceEndpoint.from_json),
            config_revision=config.mod_revision if config is not None else 0,
            leader=self.election.name,
            fencing_token=self.election.fencing_token,
            now=self.wall_clock(),
        )
        await self.election.leader_txn(
            [Put(self.keys.summary, json.dumps(summary, sort_keys=True).encode())]
        )
        self.last_summary = summary
        return summary

    async def remove_stale(self) -> int:
        now_ms = int(self.wall_clock() * 1000)
        events = await self.client.get_prefix(self.keys.events_prefix)
        limits = await self.client.get_prefix(self.keys.ratelimit_prefix)
        stale = stale_event_keys(
            [kv.key for kv in events.kvs],
            self.keys.events_prefix,
            now_ms=now_ms,
            retention_ms=self.event_retention_ms,
            keep_max=self.max_events,
        ) + stale_ratelimit_keys(
            [kv.key for kv in limits.kvs],
            self.keys.ratelimit_prefix,
            now_ms=now_ms,
            grace_ms=self.ratelimit_grace_ms,
        )
        for start in range(0, len(stale), TXN_MAX_OPS):
            await self.election.leader_txn(
                [Delete(key) for key in stale[start : start + TXN_MAX_OPS]]
            )
        if stale:
            log.info("stale_keys_removed count=%d", len(stale))
        return len(stale)


def _parsed(kvs: Sequence[Any], parse: Callable[[bytes], Any]) -> list[Any]:
    out = []
    for kv in kvs:
        try:
            out.append(parse(kv.value))
        except ValueError:
            continue
    return out
