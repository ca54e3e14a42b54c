"""Follow the platform config and every team fragment; hand the node the merged config.

A drop-in for :class:`~zonegate.coordinator.config_watcher.ConfigWatcher` when
teams own route fragments: it watches the config key and the ``fragments/``
prefix (each resumed across disconnects, re-read after compaction), and after
every change merges them (:func:`~zonegate.coordinator.fragment_merge.merge`).

- A bad fragment is dropped alone (logged, listed in :attr:`dropped`, counted
  in ``zonegate_config_fragments_dropped``); every other team keeps its routes,
  and the team itself keeps its last good fragment when the node had one
  (:attr:`stale`); a deleted fragment takes the team's routes away.
- A bad platform config (or an ``on_config`` that raises) is refused as a
  whole: the node keeps its last good merged config (fail-static).
- The revision handed to ``on_config`` is the newest etcd revision among the
  inputs (a fragment delete counts), so it only grows.
- The first merge waits until both the config and the fragments were read,
  so a starting node never serves the platform routes without the teams'.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import AsyncGenerator
from typing import Any

from prometheus_client import CollectorRegistry, Gauge

from zonegate import conventions as cv
from zonegate.config.model import ClusterConfig
from zonegate.coordinator.client import EtcdClient
from zonegate.coordinator.config_store import decode
from zonegate.coordinator.config_watcher import OnConfig, WatchedConfig
from zonegate.coordinator.etcd_types import EventKind, KeyValue, Resync, WatchEvent
from zonegate.coordinator.fragment_merge import FragmentInput, MergeResult, merge
from zonegate.coordinator.fragments import decode_fragment, fragments_prefix
from zonegate.coordinator.keys import Keys
from zonegate.coordinator.watch import watch_key
from zonegate.errors import ConfigError

log = logging.getLogger(__name__)


class MergedConfigWatcher(WatchedConfig):
    """The last good merged config (platform + team fragments), kept current from etcd."""

    def __init__(
        self,
        client: EtcdClient,
        keys: Keys,
        on_config: OnConfig,
        *,
        initial: ClusterConfig | None = None,
        initial_revision: int = 0,
        registry: CollectorRegistry | None = None,
    ) -> None:
        super().__init__(
            client, keys, on_config, initial=initial, initial_revision=initial_revision
        )
        #: Teams whose fragment the current merge left out, with why.
        self.dropped: dict[str, list[str]] = {}
        self.teams: tuple[str, ...] = ()
        #: Teams whose newest fragment was dropped but whose last good one is served.
        self.stale: dict[str, int] = {}
        self._last_good: dict[str, FragmentInput] = {}
        self._platform: KeyValue | None = None
        self._fragments: dict[str, KeyValue] = {}
        self._latest = 0
        self._synced: set[str] = set()
        self._dirty = asyncio.Event()
        self._applied: tuple[object, ...] | None = None
        self._gauge = (
            Gauge(
                cv.CONFIG_FRAGMENTS_DROPPED,
                "Team fragments left out of the node's merged config (invalid or conflicting).",
                registry=registry,
            )
            if registry is not None
            else None
        )

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self.run(), name="merged-config-watch")

    async def run(self) -> None:
        async with asyncio.TaskGroup() as group:
            group.create_task(self._follow("config", watch_key(self.client, self.keys.config)))
            prefix = fragments_prefix(self.keys)
            group.create_task(
                self._follow("fragments", watch_key(self.client, prefix, prefix=True))
            )
            group.create_task(self._rebuild_loop())

    async def _follow(self, what: str, stream: AsyncGenerator[Resync | WatchEvent, None]) -> None:
        async with contextlib.aclosing(stream):
            async for item in stream:
                if isinstance(item, Resync):
                    revisions = [kv.mod_revision for kv in item.kvs.values()]
                    self._latest = max([self._latest, *revisions])
                    if what == "config":
                        self._platform = item.kvs.get(self.keys.config, self._platform)
                    else:
                        self._fragments = dict(item.kvs)
                    self._synced.add(what)
                else:
                    self._latest = max(self._latest, item.revision)
                    self._event(what, item)
                self._dirty.set()

    def _event(self, what: str, event: WatchEvent) -> None:
        if what == "config":
            if event.kind is EventKind.PUT:
                self._platform = event.kv
            else:
                log.warning("config_key_deleted: keeping revision %d", self.revision)
        elif event.kind is EventKind.PUT:
            self._fragments[event.kv.key] = event.kv
        else:
            self._fragments.pop(event.kv.key, None)

    async def _rebuild_loop(self) -> None:
        while True:
            await self._dirty.wait()
            self._dirty.clear()
            if self._synced == {"config", "fragments"}:
                try:
                    await self._rebuild()
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # keep watching: the last good config stays
                    log.exception("merge_failed revision=%d", self._latest)
                    await self._reject(self._latest, [f"(node): merging failed: {exc!r}"])

    async def _rebuild(self) -> None:
        platform = self._platform
        if platform is None:
            return
        revision = self._latest
        fragments = [decode_fragment(self.keys, kv).input() for kv in self._fragments.values()]
        try:
            document = decode(platform).document
            result = self._merge_keeping_last_good(document, fragments)
            if result.config.cluster != self.keys.cluster:
                theirs, ours = result.config.cluster, self.keys.cluster
                raise ConfigError([f"cluster: {theirs!r} is not this cluster ({ours!r})"])
        except ValueError as exc:
            await self._reject(revision, [f"(top level): {exc}"])
            return
        except ConfigError as exc:
            await self._reject(revision, exc.problems)
            return
        self._report_dropped(result.dropped)
        key = (result.document, tuple(sorted(result.dropped)))
        if key == self._applied:
            return  # e.g. a fragment rewritten unchanged, or a change that was dropped again
        try:
            applied = self.on_config(result.config, revision)
            if inspect.isawaitable(applied):
                await applied
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("config_apply_failed revision=%d", revision)
            await self._reject(revision, [f"(node): applying failed: {exc!r}"])
            return
        self._applied = key
        current = {f.team: f for f in fragments}
        self._last_good = {
            team: current[team] if team not in self.stale else self._last_good[team]
            for team in result.teams
        }
        self.config = result.config
        self.revision = revision
        self.teams = result.teams
        self.client.metrics.config_updates.inc()
        log.info("config_updated revision=%d teams=%s", revision, ",".join(result.teams) or "-")
        await self._notify()

    def _merge_keeping_last_good(
        self, document: dict[str, Any], fragments: list[FragmentInput]
    ) -> MergeResult:
        """Merge; a team whose new fragment is dropped keeps its last good one, if any."""
        result = merge(document, fragments)
        current = {f.team: f for f in fragments}
        stale = {
            team: self._last_good[team]
            for team in result.dropped
            if team in self._last_good and team in current
        }
        self.stale = {}
        if not stale:
            return result
        retry = merge(document, [stale.get(f.team, f) for f in fragments])
        self.stale = {t: stale[t].revision for t in stale if t in retry.teams}
        for team in self.stale:
            log.warning(
                "fragment_kept_last_good team=%s serving_revision=%d", team, stale[team].revision
            )
        dropped = {t: p for t, p in retry.dropped.items() if t not in stale}
        dropped.update({t: result.dropped[t] for t in stale})
        return MergeResult(retry.config, retry.document, retry.teams, dropped)

    def _report_dropped(self, dropped: dict[str, list[str]]) -> None:
        for team, problems in dropped.items():
            if self.dropped.get(team) != problems:
                log.error("fragment_dropped team=%s problems=%s", team, "; ".join(problems))
        self.dropped = dropped
        if self._gauge is not None:
            self._gauge.set(len(dropped))
