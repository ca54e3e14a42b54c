"""Follow the cluster config in etcd and hand each good revision to the node.

:class:`ConfigWatcher` watches the config key from the last revision it saw
(resumed across disconnects, re-read after compaction). Every new value is
validated here with the same ``parse_config`` that ``zonegate config apply``
uses; a good one is passed to ``on_config(config, revision)``, a bad one
(invalid JSON, failed validation, another cluster's config, or an
``on_config`` that raises) is logged, counted in
``zonegate_config_rejected_total`` and otherwise ignored: the last good
config stays. While etcd is unreachable nothing changes (fail-static). A node
started without etcd passes its local file as ``initial`` (revision 0); the
first config read from etcd then replaces it.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import Awaitable, Callable

from zonegate.config.model import ClusterConfig
from zonegate.coordinator.client import EtcdClient
from zonegate.coordinator.config_store import decode
from zonegate.coordinator.etcd_types import EventKind, KeyValue, Resync
from zonegate.coordinator.keys import Keys
from zonegate.coordinator.tasks import cancel_and_wait
from zonegate.coordinator.watch import watch_key
from zonegate.errors import ConfigError

log = logging.getLogger(__name__)
OnConfig = Callable[[ClusterConfig, int], Awaitable[None] | None]


class WatchedConfig:
    """What every config watcher shares: the config in force, refusals, and waits."""

    def __init__(
        self,
        client: EtcdClient,
        keys: Keys,
        on_config: OnConfig,
        *,
        initial: ClusterConfig | None = None,
        initial_revision: int = 0,
    ) -> None:
        self.client = client
        self.keys = keys
        self.on_config = on_config
        self.config = initial
        self.revision = initial_revision if initial is not None else 0
        self.rejected_revision = 0
        self.last_problems: list[str] = []
        self._seen = asyncio.Condition()
        self._task: asyncio.Task[None] | None = None

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            await cancel_and_wait(task)

    async def _reject(self, revision: int, problems: list[str]) -> None:
        self.rejected_revision = revision
        self.last_problems = problems
        self.client.metrics.config_rejected.inc()
        log.error(
            "config_rejected revision=%d keeping=%d problems=%s",
            revision,
            self.revision,
            "; ".join(problems),
        )
        await self._notify()

    async def _notify(self) -> None:
        async with self._seen:
            self._seen.notify_all()

    async def wait_for_revision(self, revision: int, timeout: float) -> bool:
        """Wait until the config in force is at ``revision`` or later."""
        return await self._wait(lambda: self.revision >= revision, timeout)

    async def wait_for_rejection(self, revision: int, timeout: float) -> bool:
        """Wait until ``revision`` (or a later one) has been refused."""
        return await self._wait(lambda: self.rejected_revision >= revision, timeout)

    async def _wait(self, predicate: Callable[[], bool], timeout: float) -> bool:
        async def wait() -> None:
            async with self._seen:
                await self._seen.wait_for(predicate)

        try:
            async with asyncio.timeout(timeout):
                await wait()
        except TimeoutError:
            return False
        return True


class ConfigWatcher(WatchedConfig):
    """The last good cluster config, kept current from etcd."""

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self.run(), name="config-watch")

    async def run(self) -> None:
        stream = watch_key(self.client, self.keys.config)
        async with contextlib.aclosing(stream):
            async for item in stream:
                if isinstance(item, Resync):
                    kv = item.kvs.get(self.keys.config)
                    if kv is not None:
                        await self._consider(kv)
                elif item.kind is EventKind.PUT:
                    await self._consider(item.kv)
                else:
                    log.warning(
                        "config_key_deleted revision=%d: keeping revision %d",
                        item.revision,
                        self.revision,
                    )

    async def _consider(self, kv: KeyValue) -> None:
        revision = kv.mod_revision
        if revision in (self.revision, self.rejected_revision):
            return
        try:
            config = decode(kv).config()
            if config.cluster != self.keys.cluster:
                raise ConfigError(
                    [f"cluster: {config.cluster!r} is not this cluster ({self.keys.cluster!r})"]
                )
        except ValueError as exc:
            await self._reject(revision, [f"(top level): {exc}"])
            return
        except ConfigError as exc:
            await self._reject(revision, exc.problems)
            return
        try:
            result = self.on_config(config, revision)
            if inspect.isawaitable(result):
                await result
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("config_apply_failed revision=%d", revision)
            await self._reject(revision, [f"(node): applying failed: {exc!r}"])
            return
        self.config = config
        self.revision = revision
        self.client.metrics.config_updates.inc()
        log.info("config_updated revision=%d", revision)
        await self._notify()
