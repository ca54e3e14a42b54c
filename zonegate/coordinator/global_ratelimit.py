"""Cluster-wide rate limits (``scope: cluster``) for one node, through etcd.

No etcd round trip on the request path: :meth:`GlobalRateLimits.backend` gives
the rate-limit filter a backend whose ``hit`` only reads memory. Around it:

- every sync interval (default 100 ms) the node writes its counts of the
  current and previous window, for every limit whose counts changed, in one
  transaction: one key per limit, window and node
  (``ratelimit/<route>:<limit>:<window-ms>/<window-start-ms>/<node>``), bound
  to the node's own lease. Writes per second are at most ``1 / sync interval``
  per node (per 100 limits), whatever the request rate;
- it watches the ``ratelimit/`` prefix to learn the other nodes' counts (a
  delete, from lease expiry or the leader's housekeeping, keeps the counts
  already seen: they were admitted), and the node registrations to know how
  many nodes are live;
- it decides with the estimate and the overshoot bound documented in
  :mod:`zonegate.coordinator.ratelimit_math`. While etcd is unreachable, a sync
  write fails or takes longer than ``sync_timeout_s``, or the watch lags behind
  the node's own writes, it admits on its own counts up to ``ceil(L / N)``;
  shared counts are trusted again ``settle_s`` after etcd answers (so the
  other nodes have published what they counted meanwhile).

Old windows' keys are removed by the leader (:class:`LeaderDuties`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any
from weakref import WeakValueDictionary

from prometheus_client import CollectorRegistry, Counter, Gauge

from zonegate import conventions as names
from zonegate.coordinator.backoff import Backoff
from zonegate.coordinator.client import EtcdClient
from zonegate.coordinator.discovery import PrefixWatcher, node_watcher
from zonegate.coordinator.errors import CoordinatorError, LeaseNotFoundError
from zonegate.coordinator.etcd_types import KeyValue, Put, Resync
from zonegate.coordinator.keys import Keys
from zonegate.coordinator.lease import LeaseKeeper
from zonegate.coordinator.ratelimit_counts import (
    Report,
    SharedCounter,
    decode_report,
    encode_report,
)
from zonegate.coordinator.ratelimit_keys import limit_segment, node_segment, window_ms_of
from zonegate.coordinator.ratelimit_math import global_window, local_share
from zonegate.coordinator.records import NODE_SERVING, NodeInfo
from zonegate.coordinator.tasks import cancel_and_wait
from zonegate.coordinator.watch import watch_key
from zonegate.node.policy.decision import Decision, LimitSpec
from zonegate.node.policy.limiter import RateLimitBackend

log = logging.getLogger(__name__)
TXN_MAX_OPS = 100
DEFAULT_SYNC_INTERVAL_S = 0.1
DEFAULT_SYNC_TIMEOUT_S = 0.5
DEFAULT_LEASE_TTL = 10
MAX_RETRY_S = 0.25


class GlobalRateLimitMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.shared = Gauge(
            names.GLOBAL_RATELIMIT_SHARED,
            "1 while cluster-wide limits use the counts shared through etcd, "
            "0 while each node admits its local share (limit / live nodes)",
            registry=registry,
        )
        self.live_nodes = Gauge(
            names.GLOBAL_RATELIMIT_LIVE_NODES,
            "serving nodes last seen in the registrations (divides limits in fallback)",
            registry=registry,
        )
        self.syncs = Counter(
            names.GLOBAL_RATELIMIT_SYNCS_TOTAL,
            "count syncs to etcd (one transaction each) by outcome (ok, failed)",
            [names.LABEL_OUTCOME],
            registry=registry,
        )
        for outcome in ("ok", "failed"):
            self.syncs.labels(outcome)


class GlobalLimitBackend:
    """What the rate-limit filter calls for one ``scope: cluster`` limit."""

    __slots__ = ("__weakref__", "_counter", "_owner", "limit", "spec")

    def __init__(
        self, owner: GlobalRateLimits, counter: SharedCounter, spec: LimitSpec, limit: int
    ) -> None:
        self._owner = owner
        self._counter = counter
        self.spec = spec
        self.limit = limit

    def hit(self, key: str, cost: int = 1) -> Decision:
        owner = self._owner
        return self._counter.hit(key, cost, self.limit, owner.share(self.limit), owner.shared)


class GlobalRateLimits:
    """The node's cluster-wide limits; build backends any time, :meth:`start` with a client."""

    def __init__(
        self,
        keys: Keys,
        node_id: str,
        zone: str,
        *,
        registry: CollectorRegistry | None = None,
        sync_interval_s: float = DEFAULT_SYNC_INTERVAL_S,
        sync_timeout_s: float = DEFAULT_SYNC_TIMEOUT_S,
        settle_s: float | None = None,
        lease_ttl: int = DEFAULT_LEASE_TTL,
        max_shared_keys: int = 1000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if sync_interval_s <= 0 or sync_timeout_s <= 0:
            raise ValueError("sync interval and timeout must be > 0")
        self.keys = keys
        self.node = node_segment(node_id, zone)
        self._self_registration = f"{zone}/{node_id}"
        self.sync_interval_s = sync_interval_s
        self.sync_timeout_s = sync_timeout_s
        self.settle_s = settle_s if settle_s is not None else MAX_RETRY_S + 2 * sync_interval_s
        self.lease_ttl = lease_ttl
        self.max_shared_keys = max_shared_keys
        self.clock = clock
        self.metrics = GlobalRateLimitMetrics(registry or CollectorRegistry())
        self.shared = False
        """Trust the shared counts (else: local share)."""
        self.live_nodes = 1
        self.client: EtcdClient | None = None
        self._counters: dict[str, SharedCounter] = {}
        self._backends: WeakValueDictionary[tuple[str, LimitSpec], GlobalLimitBackend] = (
            WeakValueDictionary()
        )
        self._lease: LeaseKeeper | None = None
        self._sync_ok = False
        self._healthy_since: float | None = None
        self._watch_synced = False
        self._own_revision = 0
        self._own_written_at = 0.0
        self._seen_revision = 0
        self._nodes: PrefixWatcher[NodeInfo] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._keepalive: asyncio.Task[None] | None = None
        self.metrics.live_nodes.set(1)

    # --- the backend factory (PolicyDeps.global_rate_limits) -----------------------------
    def backend(self, route: str, spec: LimitSpec, local: RateLimitBackend) -> RateLimitBackend:
        """The cluster-wide backend of ``spec`` on ``route`` (same object while the spec
        is unchanged). ``local`` (the node's full-limit limiter) is not used: alone,
        a node may admit only its share."""
        found = self._backends.get((route, spec))
        if found is not None:
            return found
        window = global_window(spec.requests, spec.period_s)
        name = limit_segment(route, spec.name, window.window_ms)
        counter = self._counter(name, window.window_ms / 1000)
        backend = GlobalLimitBackend(self, counter, spec, window.limit)
        self._backends[(route, spec)] = backend
        return backend

    def _counter(self, name: str, window_s: float) -> SharedCounter:
        counter = self._counters.get(name)
        if counter is None:
            counter = SharedCounter(
                window_s,
                sync_interval_s=self.sync_interval_s,
                clock=self.clock,
                max_shared_keys=self.max_shared_keys,
            )
            self._counters[name] = counter
        return counter

    def share(self, limit: int) -> int:
        return local_share(limit, self.live_nodes)

    # --- lifecycle --------------------------------------------------------------------------
    def start(self, client: EtcdClient) -> None:
        """Start syncing, watching and following the registrations (returns at once)."""
        if self.client is not None:
            return
        self.client = client
        self._nodes = node_watcher(client, self.keys, self._nodes_changed)
        self._nodes.start()
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._sync_loop(), name="global-ratelimit-sync"),
            loop.create_task(self._watch_loop(), name="global-ratelimit-watch"),
        ]

    async def stop(self, *, revoke: bool = True) -> None:
        """Stop; with ``revoke`` this node's count keys go at once."""
        for task in self._tasks:
            await cancel_and_wait(task)
        self._tasks = []
        if self._nodes is not None:
            await self._nodes.stop()
        if self._keepalive is not None:
            await cancel_and_wait(self._keepalive)
        keeper, self._lease = self._lease, None
        if keeper is not None and revoke:
            with contextlib.suppress(CoordinatorError):
                await keeper.revoke()
        self._set_shared(False)

    def status(self) -> dict[str, Any]:
        """Mode, live nodes and, per limit, this node's and its peers' window counts."""
        now = self.clock()
        return {
            "shared": self.shared,
            "live_nodes": self.live_nodes,
            "node": self.node,
            "limits": {name: c.totals(now) for name, c in sorted(self._counters.items())},
        }

    # --- live nodes ---------------------------------------------------------------------------
    def _nodes_changed(self, nodes: dict[str, NodeInfo]) -> None:
        serving = {name for name, info in nodes.items() if info.state == NODE_SERVING}
        serving.add(self._self_registration)
        self.live_nodes = len(serving)
        self.metrics.live_nodes.set(self.live_nodes)

    # --- sync ----------------------------------------------------------------------------------
    async def _sync_loop(self) -> None:
        loop = asyncio.get_running_loop()
        retry = Backoff(self.sync_interval_s, max(self.sync_interval_s, MAX_RETRY_S))
        next_at = loop.time()
        while True:
            if await self.sync_once():
                retry.reset()
                next_at = max(next_at + self.sync_interval_s, loop.time())
            else:
                next_at = loop.time() + retry.next()
            await asyncio.sleep(max(0.0, next_at - loop.time()))

    async def sync_once(self) -> bool:
        """Write every changed count (one transaction per 100 keys); False on failure."""
        now = self.clock()
        ok = await self._write(now)
        self._prune(now)
        self._update_mode(now)
        return ok

    async def _write(self, now: float) -> bool:
        client = self.client
        if client is None:
            return False
        batch: list[tuple[SharedCounter, int, Report, str]] = []
        collected = False
        try:
            async with asyncio.timeout(self.sync_timeout_s):
                fresh = self._lease is None
                lease = await self._lease_id()
                for name, counter in self._counters.items():
                    if fresh:
                        counter.forget_published()
                    for start_ms, report in counter.collect(now):
                        key = self.keys.ratelimit(name, start_ms, self.node)
                        batch.append((counter, start_ms, report, key))
                collected = True
                revision = 0
                for first in range(0, len(batch), TXN_MAX_OPS):
                    ops = [
                        Put(key, encode_report(report), lease)
                        for _, _, report, key in batch[first : first + TXN_MAX_OPS]
                    ]
                    revision = (await client.txn([], ops, retry_unknown=True)).revision
                    self.metrics.syncs.labels("ok").inc()
        except LeaseNotFoundError:
            log.warning("global_ratelimit_lease_lost node=%s", self.node)
            self._drop_lease()
            return self._failed(now, collected)
        except (CoordinatorError, TimeoutError) as exc:  # unreachable, refused, slow
            log.debug("global_ratelimit_sync_failed: %s", exc)
            return self._failed(now, collected)
        for counter, start_ms, report, _ in batch:
            counter.published(start_ms, report)
        if revision:
            self._own_revision = revision
            self._own_written_at = now
        self._sync_ok = True
        return True

    def _failed(self, now: float, collected: bool) -> bool:
        if not collected:
            for counter in self._counters.values():
                counter.collect(now)  # keep rates and windows moving; published stays
        self.metrics.syncs.labels("failed").inc()
        self._sync_ok = False
        return False

    async def _lease_id(self) -> int:
        if self._lease is None:
            assert self.client is not None
            keeper = LeaseKeeper(self.client, self.lease_ttl)
            await keeper.grant()
            self._lease = keeper
            self._keepalive = asyncio.get_running_loop().create_task(
                self._keep(keeper), name="global-ratelimit-lease"
            )
        return self._lease.lease_id or 0

    async def _keep(self, keeper: LeaseKeeper) -> None:
        await keeper.keep_alive()
        if self._lease is keeper:
            self._drop_lease()

    def _drop_lease(self) -> None:
        self._lease = None
        task, self._keepalive = self._keepalive, None
        if task is not None and task is not asyncio.current_task():
            task.cancel()

    def _prune(self, now: float) -> None:
        used = {b._counter for b in self._backends.values()}
        for name in [n for n, c in self._counters.items() if c not in used and c.idle(now)]:
            del self._counters[name]

    # --- mode -----------------------------------------------------------------------------------
    def _update_mode(self, now: float) -> None:
        client = self.client
        lagging = (
            self._own_revision > self._seen_revision
            and now - self._own_written_at > self.sync_timeout_s
        )
        healthy = (
            client is not None
            and client.reachable
            and self._sync_ok
            and self._watch_synced
            and not lagging
        )
        if not healthy:
            self._healthy_since = None
            self._set_shared(False)
            return
        if self._healthy_since is None:
            self._healthy_since = now
        self._set_shared(now - self._healthy_since >= self.settle_s)

    def _set_shared(self, shared: bool) -> None:
        if shared != self.shared:
            log.info(
                "global_ratelimit_shared" if shared else "global_ratelimit_local_share",
                extra={"node": self.node, "live_nodes": self.live_nodes},
            )
        self.shared = shared
        self.metrics.shared.set(1 if shared else 0)

    # --- watch ----------------------------------------------------------------------------------
    async def _watch_loop(self) -> None:
        assert self.client is not None
        stream = watch_key(
            self.client,
            self.keys.ratelimit_prefix,
            prefix=True,
            backoff=Backoff(self.sync_interval_s, max(self.sync_interval_s, 2 * MAX_RETRY_S)),
        )
        async with contextlib.aclosing(stream):
            async for item in stream:
                now = self.clock()
                if isinstance(item, Resync):
                    for kv in item.kvs.values():
                        self._apply(kv, now, resync=True)
                    self._watch_synced = True
                elif item.kv.value:
                    self._apply(item.kv, now, resync=False)
                self._seen_revision = max(self._seen_revision, item.revision)

    def _apply(self, kv: KeyValue, now: float, *, resync: bool) -> None:
        parts = self.keys.relative(kv.key, self.keys.ratelimit_prefix)
        if len(parts) != 3 or not parts[1].isdigit():
            return
        name, start, node = parts
        window_ms = window_ms_of(name)
        if window_ms is None or (node == self.node and not resync):
            return
        try:
            report = decode_report(kv.value)
        except ValueError as exc:
            log.warning("global_ratelimit_bad_report key=%s: %s", kv.key, exc)
            return
        counter = self._counter(name, window_ms / 1000)
        if node == self.node:
            counter.seed_own(int(start), report, now)
        else:
            counter.receive(node, int(start), report, now)
