"""Watches resume from the last revision across member failures and re-read after compaction."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Awaitable, Callable

from zonegate.coordinator.client import EtcdClient
from zonegate.coordinator.etcd_server import EtcdCluster
from zonegate.coordinator.etcd_types import EventKind, Resync, WatchEvent
from zonegate.coordinator.metrics import CoordinatorMetrics
from zonegate.coordinator.watch import watch_key

Eventually = Callable[..., Awaitable[None]]


class Collector:
    """Consumes a watch in the background, keeping what it saw."""

    def __init__(self, stream: AsyncGenerator[Resync | WatchEvent, None]) -> None:
        self.stream = stream
        self.items: list[Resync | WatchEvent] = []
        self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        async with contextlib.aclosing(self.stream):
            async for item in self.stream:
                self.items.append(item)

    @property
    def events(self) -> list[WatchEvent]:
        return [i for i in self.items if isinstance(i, WatchEvent)]

    @property
    def resyncs(self) -> list[Resync]:
        return [i for i in self.items if isinstance(i, Resync)]

    async def stop(self) -> None:
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task


async def test_resync_then_events_in_order(
    etcd: EtcdClient, cluster_name: str, eventually: Eventually
) -> None:
    prefix = f"/{cluster_name}/w/"
    await etcd.put(prefix + "before", "0")
    seen = Collector(watch_key(etcd, prefix, prefix=True))
    await eventually(lambda: len(seen.resyncs) == 1)
    assert list(seen.resyncs[0].kvs) == [prefix + "before"]
    for i in range(5):
        await etcd.put(prefix + f"k{i}", str(i))
    await etcd.delete(prefix + "k0")
    await eventually(lambda: len(seen.events) == 6)
    assert [e.kv.key for e in seen.events[:5]] == [prefix + f"k{i}" for i in range(5)]
    assert seen.events[5].kind is EventKind.DELETE
    revisions = [e.revision for e in seen.events]
    assert revisions == sorted(revisions)
    await seen.stop()


async def test_single_key_watch_ignores_longer_keys(
    etcd: EtcdClient, cluster_name: str, eventually: Eventually
) -> None:
    key = f"/{cluster_name}/config"
    seen = Collector(watch_key(etcd, key))
    await eventually(lambda: len(seen.resyncs) == 1)
    await etcd.put(key + "-history/1", "x")
    await etcd.put(key, "y")
    await eventually(lambda: len(seen.events) == 1)
    assert seen.events[0].kv.key == key
    await seen.stop()


async def test_resume_across_member_kill_loses_nothing(
    etcd_factory: Callable[..., EtcdCluster],
    metrics: CoordinatorMetrics,
    eventually: Eventually,
) -> None:
    cluster = etcd_factory(3)
    async with (
        EtcdClient(cluster.endpoints, timeout=1.0, metrics=metrics) as watcher,
        EtcdClient(cluster.endpoints[1:], timeout=1.0, metrics=metrics) as writer,
    ):
        seen = Collector(watch_key(watcher, "/r/", prefix=True))
        await eventually(lambda: len(seen.resyncs) == 1)
        await writer.put("/r/a", "1")
        await eventually(lambda: len(seen.events) == 1)
        assert watcher.current_endpoint == cluster.endpoints[0]

        cluster.kill_member(0)  # the member the watch stream is on
        for i in range(5):
            await writer.put(f"/r/k{i}", str(i))
        await eventually(lambda: len(seen.events) == 6, 10, "all writes seen after failover")
        assert [e.kv.key for e in seen.events] == ["/r/a"] + [f"/r/k{i}" for i in range(5)]
        assert len(seen.resyncs) == 1  # resumed, not re-read
        assert watcher.current_endpoint != cluster.endpoints[0]

        cluster.restart_member(0)  # and back: nothing repeated
        await writer.put("/r/z", "z")
        await eventually(lambda: len(seen.events) == 7)
        assert len({e.revision for e in seen.events}) == 7
        await seen.stop()
    assert metrics.watch_restarts.labels("disconnect")._value.get() >= 1


async def test_compaction_while_disconnected_resyncs(
    etcd_factory: Callable[..., EtcdCluster],
    metrics: CoordinatorMetrics,
    eventually: Eventually,
) -> None:
    cluster = etcd_factory(3)
    async with (
        EtcdClient(cluster.endpoints, timeout=1.0, metrics=metrics) as watcher,
        EtcdClient(cluster.endpoints[1:], timeout=1.0, metrics=metrics) as writer,
    ):
        await writer.put("/c/keep", "1")
        await writer.put("/c/gone", "1")
        seen = Collector(watch_key(watcher, "/c/", prefix=True))
        await eventually(lambda: len(seen.resyncs) == 1)
        cluster.pause_member(0)  # the watch stream hangs silently...
        await writer.delete("/c/gone")
        await writer.put("/c/new", "2")
        last = await writer.put("/c/keep", "3")
        await writer.compact(last)  # ...and the history it needs is compacted
        cluster.resume_member(0)
        cluster.kill_member(0)  # now the stream breaks; resuming finds the gap compacted
        await eventually(lambda: len(seen.resyncs) == 2, 10, "a second full read")
        final = seen.resyncs[-1]
        assert sorted(final.kvs) == ["/c/keep", "/c/new"]
        assert final.kvs["/c/keep"].value == b"3"
        await seen.stop()
    assert metrics.watch_restarts.labels("compacted")._value.get() == 1


async def test_paused_member_is_left_by_probe(
    etcd_factory: Callable[..., EtcdCluster],
    metrics: CoordinatorMetrics,
    eventually: Eventually,
) -> None:
    cluster = etcd_factory(3)
    async with (
        EtcdClient(cluster.endpoints, timeout=0.5, probe_interval=0.2, metrics=metrics) as watcher,
        EtcdClient(cluster.endpoints[1:], timeout=1.0, metrics=metrics) as writer,
    ):
        seen = Collector(watch_key(watcher, "/p/", prefix=True))
        await eventually(lambda: len(seen.resyncs) == 1)
        cluster.pause_member(0)
        try:
            await writer.put("/p/a", "1")
            await eventually(lambda: len(seen.events) == 1, 10, "event via another member")
        finally:
            cluster.resume_member(0)
        await seen.stop()
