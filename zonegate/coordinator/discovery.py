"""Discovery: keep a current view of everything under a prefix.

:class:`PrefixWatcher` reads the prefix, then follows the watch (resumed after
disconnects, re-read after compaction, see :mod:`zonegate.coordinator.watch`)
and after every change calls ``on_change`` with the *whole* new set (a fresh
dict: the callee may keep it). Values that do not parse are skipped with a log
line. While etcd is unreachable the last view stays.

:func:`node_watcher` gives ``{"<zone>/<node-id>": NodeInfo}``;
:func:`service_watcher` gives ``{"<zone>/<id>": ServiceEndpoint}`` of one
service, so upstream clusters can take their endpoints (zone + address) from a
service name.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from zonegate.coordinator.client import EtcdClient
from zonegate.coordinator.etcd_types import EventKind, KeyValue, Resync
from zonegate.coordinator.keys import Keys
from zonegate.coordinator.records import NodeInfo, ServiceEndpoint
from zonegate.coordinator.tasks import cancel_and_wait
from zonegate.coordinator.watch import watch_key

log = logging.getLogger(__name__)
T = TypeVar("T")
OnChange = Callable[[dict[str, T]], Awaitable[None] | None]


class PrefixWatcher(Generic[T]):
    """The parsed values under ``prefix``, keyed by the key with the prefix cut off."""

    def __init__(
        self,
        client: EtcdClient,
        prefix: str,
        parse: Callable[[KeyValue], T],
        on_change: OnChange[T] | None = None,
    ) -> None:
        self.client = client
        self.prefix = prefix
        self.parse = parse
        self.on_change = on_change
        self.revision = 0
        self._items: dict[str, T] = {}
        self._synced = asyncio.Event()
        self._changed = asyncio.Condition()
        self._task: asyncio.Task[None] | None = None

    @property
    def current(self) -> dict[str, T]:
        return dict(self._items)

    @property
    def synced(self) -> bool:
        """The prefix has been read at least once."""
        return self._synced.is_set()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self.run(), name=f"watch {self.prefix}")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            await cancel_and_wait(task)

    def _parse(self, kv: KeyValue) -> T | None:
        try:
            return self.parse(kv)
        except ValueError as exc:
            log.warning("discovery_bad_value key=%s: %s", kv.key, exc)
            return None

    async def run(self) -> None:
        """Follow the prefix until cancelled (or the client closes)."""
        stream = watch_key(self.client, self.prefix, prefix=True)
        async with contextlib.aclosing(stream):
            async for item in stream:
                if isinstance(item, Resync):
                    new: dict[str, T] = {}
                    for key, kv in item.kvs.items():
                        parsed = self._parse(kv)
                        if parsed is not None:
                            new[key.removeprefix(self.prefix)] = parsed
                    changed = new != self._items or not self._synced.is_set()
                    self._items = new
                    self.revision = item.revision
                    self._synced.set()
                else:
                    name = item.kv.key.removeprefix(self.prefix)
                    before = self._items.get(name)
                    self.revision = item.revision
                    if item.kind is EventKind.DELETE:
                        self._items.pop(name, None)
                    else:
                        parsed = self._parse(item.kv)
                        if parsed is None:
                            self._items.pop(name, None)
                        else:
                            self._items[name] = parsed
                    changed = before != self._items.get(name)
                if changed:
                    await self._notify()

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()
        if self.on_change is None:
            return
        try:
            result = self.on_change(self.current)
            if inspect.isawaitable(result):
                await result
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("discovery_callback_failed prefix=%s", self.prefix)

    async def wait_until(
        self, predicate: Callable[[dict[str, T]], bool], timeout: float
    ) -> dict[str, T]:
        """Wait until the current set satisfies ``predicate``; TimeoutError otherwise."""

        async def wait() -> dict[str, T]:
            async with self._changed:
                await self._changed.wait_for(
                    lambda: self._synced.is_set() and predicate(self.current)
                )
            return self.current

        async with asyncio.timeout(timeout):
            return await wait()


def node_watcher(
    client: EtcdClient, keys: Keys, on_change: OnChange[NodeInfo] | None = None
) -> PrefixWatcher[NodeInfo]:
    """Every registered node as ``{"<zone>/<node-id>": NodeInfo}``."""
    return PrefixWatcher(
        client, keys.nodes_prefix, lambda kv: NodeInfo.from_json(kv.value), on_change
    )


def service_watcher(
    client: EtcdClient, keys: Keys, service: str, on_change: OnChange[ServiceEndpoint] | None = None
) -> PrefixWatcher[ServiceEndpoint]:
    """Every instance of ``service`` as ``{"<zone>/<id>": ServiceEndpoint}``."""
    return PrefixWatcher(
        client,
        keys.service_prefix(service),
        lambda kv: ServiceEndpoint.from_json(kv.value),
        on_change,
    )
