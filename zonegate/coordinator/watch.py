"""Watches that survive: resume after disconnects, re-read after compaction.

:func:`watch_key` yields a :class:`Resync` with the whole watched range first
(unless given a ``start_revision``), then one :class:`WatchEvent` per change.
When the stream breaks (endpoint down, failover to another member) it is
re-created from the revision after the last one seen, so no change is lost
or repeated; when that revision has been compacted, everything is read again
and a new :class:`Resync` is yielded. It retries with backoff while etcd is
unreachable and ends only when the client is closed (or the consumer stops:
use ``contextlib.aclosing``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator

from zonegate.coordinator.backoff import Backoff
from zonegate.coordinator.client import EtcdClient
from zonegate.coordinator.errors import EtcdUnavailableError, WatchCompactedError
from zonegate.coordinator.etcd_types import Resync, WatchEvent

log = logging.getLogger(__name__)


async def watch_key(
    client: EtcdClient,
    key: str,
    *,
    prefix: bool = False,
    start_revision: int | None = None,
    backoff: Backoff | None = None,
) -> AsyncGenerator[Resync | WatchEvent, None]:
    """Every change of ``key`` (or of every key under it), resumed across failures."""
    delay = backoff or Backoff(0.1, 1.0)
    next_revision = start_revision
    restarts = client.metrics.watch_restarts
    while not client.closed:
        if next_revision is None:
            try:
                snapshot = await client.read(key, prefix=prefix)
            except EtcdUnavailableError as exc:
                log.debug("watch_read_failed key=%s: %s", key, exc)
                await asyncio.sleep(delay.next())
                continue
            yield Resync(snapshot.revision, snapshot.by_key())
            next_revision = snapshot.revision + 1
        try:
            async with client.watch(key, prefix=prefix, start_revision=next_revision) as events:
                delay.reset()
                async for event in events:
                    next_revision = event.revision + 1
                    yield event
            if not client.closed:
                restarts.labels("disconnect").inc()
                log.info("watch_resumed key=%s from_revision=%s", key, next_revision)
        except WatchCompactedError as exc:
            restarts.labels("compacted").inc()
            log.warning(
                "watch_compacted key=%s wanted=%s compacted=%s: re-reading everything",
                key,
                next_revision,
                exc.compact_revision,
            )
            next_revision = None
        except EtcdUnavailableError as exc:
            if client.closed:
                return
            restarts.labels("disconnect").inc()
            log.debug("watch_failed key=%s: %s", key, exc)
            await asyncio.sleep(delay.next())
