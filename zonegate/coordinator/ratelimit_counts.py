"""One cluster-wide limit on one node: own counts, peers' reports, decisions (pure).

:class:`SharedCounter` holds, per key, this node's exact counts (admitted and
offered) of the current and previous window and the other nodes' last reported
counts; :meth:`hit` decides with the estimate and the per-interval allowance of
:mod:`zonegate.coordinator.ratelimit_math`. The service around it
(:mod:`zonegate.coordinator.global_ratelimit`) calls :meth:`collect` every sync
interval and writes what it returns, feeds peers' reports from the watch to
:meth:`receive`, and says per hit whether the shared counts may be trusted
(else each node keeps to its local share).

At most ``max_shared_keys`` keys are shared at a time (a key's slot frees once
both its windows are empty); further keys (high-cardinality keys such as
client IPs) are limited locally to the node's share, in a size-bounded store.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Callable
from dataclasses import dataclass

from zonegate.coordinator.ratelimit_math import (
    EPSILON,
    extrapolated,
    interval_allowance,
    reset_after,
    retry_after,
    window_index,
)
from zonegate.node.policy.decision import Clock, Decision
from zonegate.node.policy.lru import BoundedLRU
from zonegate.node.policy.sliding_window import SlidingWindow, WindowState

Report = dict[str, tuple[int, float, float]]
"""key -> (count admitted in the window, requests offered per second lately, admissions
per second planned until the next sync) of one node."""
MAX_REPORT_KEYS = 100_000


def encode_report(report: Report) -> bytes:
    return json.dumps(
        {"keys": {k: list(v) for k, v in report.items()}}, separators=(",", ":")
    ).encode()


def decode_report(data: bytes) -> Report:
    """Parse a stored report; ValueError when it is not one."""
    value = json.loads(data)
    keys = value.get("keys") if isinstance(value, dict) else None
    if not isinstance(keys, dict) or len(keys) > MAX_REPORT_KEYS:
        raise ValueError("not a rate-limit report")
    out: Report = {}
    for key, item in keys.items():
        if not (isinstance(item, list) and len(item) == 3):
            raise ValueError(f"bad count for key {key!r}")
        count, demand, planned = item
        if not isinstance(count, int) or not all(
            isinstance(x, int | float) for x in (demand, planned)
        ):
            raise ValueError(f"bad count for key {key!r}")
        out[str(key)] = (max(0, count), max(0.0, float(demand)), max(0.0, float(planned)))
    return out


@dataclass(slots=True)
class PeerReport:
    counts: dict[str, int]
    demand: dict[str, float]
    planned: dict[str, float]
    received_at: float


class KeyCounts:
    """This node's counts of one shared key, its allowance, and the peers' sums."""

    __slots__ = (
        "allowance",
        "curr",
        "limit",
        "offered_curr",
        "offered_prev",
        "peer_curr",
        "peer_demand",
        "peer_plans",
        "peer_prev",
        "prev",
        "seen_version",
        "seen_window",
        "since_sync",
        "window",
    )

    def __init__(self, window: int, limit: int) -> None:
        self.window = window
        self.limit = limit
        self.prev = 0
        self.curr = 0
        self.offered_prev = 0
        self.offered_curr = 0
        self.since_sync = 0
        """Admitted since this node's last sync (bounded by ``allowance``)."""
        self.allowance = math.inf
        self.seen_version = -1
        self.seen_window = window
        self.peer_prev = 0
        self.peer_curr = 0
        self.peer_demand = 0.0
        self.peer_plans: tuple[tuple[float, float], ...] = ()
        """(planned admissions per second, report received at) of each peer."""

    def roll(self, window: int) -> None:
        follows = self.window == window - 1
        self.prev = self.curr if follows else 0
        self.offered_prev = self.offered_curr if follows else 0
        self.curr = self.offered_curr = 0
        self.window = window

    def count_in(self, window: int) -> int:
        if window == self.window:
            return self.curr
        return self.prev if window == self.window - 1 else 0


class SharedCounter:
    """Counts of one limit (one etcd limit segment) on one node."""

    def __init__(
        self,
        window_s: float,
        *,
        sync_interval_s: float,
        clock: Clock,
        max_shared_keys: int = 1000,
        max_local_keys: int = 100_000,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.window_ms = round(window_s * 1000)
        if self.window_ms < 1:
            raise ValueError("window_s must be at least 1 ms")
        self.window_s = self.window_ms / 1000
        self.sync_interval_s = sync_interval_s
        self.max_shared_keys = max_shared_keys
        self._clock = clock
        self._rand = rand
        self._keys: dict[str, KeyCounts] = {}
        self._peers: dict[int, dict[str, PeerReport]] = {}
        self._published: dict[int, Report] = {}
        self._version = 0
        self._local: BoundedLRU[str, WindowState] = BoundedLRU(max_local_keys)
        self._local_windows: dict[int, SlidingWindow] = {}

    # --- windows ----------------------------------------------------------------------
    def index(self, now: float) -> int:
        return window_index(now, self.window_ms)

    def start_ms(self, index: int) -> int:
        return index * self.window_ms

    def index_of_start(self, start_ms: int) -> int:
        return start_ms // self.window_ms

    def fraction(self, now: float, index: int) -> float:
        return min(1.0, max(0.0, now - index * self.window_s) / self.window_s)

    @property
    def shared_keys(self) -> int:
        return len(self._keys)

    # --- the request path ----------------------------------------------------------------
    def hit(self, key: str, cost: int, limit: int, share: int, shared: bool) -> Decision:
        """Count ``key`` against ``limit`` with the peers' counts when ``shared``,
        else against this node's ``share`` alone."""
        now = self._clock()
        window_s = self.window_s
        w = window_index(now, self.window_ms)
        elapsed = max(0.0, now - w * window_s)
        ks = self._keys.get(key)
        if ks is None:
            if len(self._keys) >= self.max_shared_keys:
                return self._local_hit(key, now, cost, share)
            ks = self._keys[key] = KeyCounts(w, limit)
        elif w > ks.window:
            ks.roll(w)
        ks.offered_curr += cost
        if shared:
            if ks.seen_version != self._version or ks.seen_window != w:
                self._refresh(key, ks, w)
            ks.limit = limit
            prev = ks.prev + ks.peer_prev
            curr = ks.curr + ks.peer_curr
            if ks.peer_plans:  # what the peers admitted since their last report (whole)
                curr += math.floor(extrapolated(ks.peer_plans, now, self.sync_interval_s) + EPSILON)
            quota = limit
            fits = ks.since_sync + cost <= ks.allowance
        else:
            prev, curr, quota, fits = ks.prev, ks.curr, share, True
        estimate = prev * (1.0 - min(1.0, elapsed / window_s)) + curr
        if fits and estimate + cost <= quota + EPSILON:
            ks.curr += cost
            ks.since_sync += cost
            remaining = math.floor(quota - estimate - cost + EPSILON)
            reset = reset_after(window_s, elapsed, prev, curr + cost)
            return Decision(True, quota, max(0, remaining), reset, 0.0)
        retry = retry_after(quota, window_s, elapsed, prev, curr, cost)
        if not fits:
            retry = max(retry, self.sync_interval_s)
        remaining = max(0, math.floor(quota - estimate + EPSILON))
        return Decision(False, quota, remaining, reset_after(window_s, elapsed, prev, curr), retry)

    def _local_hit(self, key: str, now: float, cost: int, share: int) -> Decision:
        window = self._local_windows.get(share)
        if window is None:
            self._local_windows = {share: SlidingWindow(share, self.window_s)}
            window = self._local_windows[share]
        return window.acquire(self._local, key, now, cost)

    def _refresh(self, key: str, ks: KeyCounts, w: int) -> None:
        prev = curr = 0
        demand = 0.0
        plans: list[tuple[float, float]] = []
        older = self._peers.get(w - 1, {})
        newer = self._peers.get(w, {})
        for report in older.values():
            prev += report.counts.get(key, 0)
        latest = list(newer.values())
        latest += [r for node, r in older.items() if node not in newer]  # none of w yet
        for report in newer.values():
            curr += report.counts.get(key, 0)
        for report in latest:
            demand += report.demand.get(key, 0.0)
            planned = report.planned.get(key, 0.0)
            if planned > 0:
                plans.append((planned, report.received_at))
        ks.peer_prev, ks.peer_curr, ks.peer_demand = prev, curr, demand
        ks.peer_plans = tuple(plans)
        ks.seen_version = self._version
        ks.seen_window = w

    # --- reports from the other nodes -------------------------------------------------------
    def receive(self, node: str, start_ms: int, report: Report, now: float) -> None:
        """A peer's counts of one window (kept as the max seen: counts only grow)."""
        index = self.index_of_start(start_ms)
        if index < self.index(now) - 1:
            return
        reports = self._peers.setdefault(index, {})
        old = reports.get(node)
        counts = dict(old.counts) if old is not None else {}
        for key, (count, _, _) in report.items():
            if count > counts.get(key, 0):
                counts[key] = count
        demand = {key: d for key, (_, d, _) in report.items() if d > 0}
        planned = {key: p for key, (_, _, p) in report.items() if p > 0}
        reports[node] = PeerReport(counts, demand, planned, now)
        self._version += 1

    def seed_own(self, start_ms: int, report: Report, now: float, limit: int = 0) -> None:
        """Counts this node stored before (a restart within the window): adopt them."""
        index = self.index_of_start(start_ms)
        w = self.index(now)
        if index not in (w - 1, w):
            return
        for key, (count, _, _) in report.items():
            ks = self._keys.get(key)
            if ks is None:
                if len(self._keys) >= self.max_shared_keys:
                    continue
                ks = self._keys[key] = KeyCounts(w, limit)
            elif w > ks.window:
                ks.roll(w)
            extra = count - ks.count_in(index)
            if extra <= 0:
                continue
            if index == ks.window:
                ks.curr += extra
            else:
                ks.prev += extra

    # --- sync ---------------------------------------------------------------------------------
    def collect(self, now: float) -> list[tuple[int, Report]]:
        """(window start ms, report) of each window whose report changed since the
        last :meth:`published`; sets each key's allowance until the next sync and
        forgets keys with nothing left to count."""
        w = self.index(now)
        fraction = self.fraction(now, w)
        window_s = self.window_s
        current: Report = {}
        previous: Report = {}
        empty: list[str] = []
        for key, ks in self._keys.items():
            if w > ks.window:
                ks.roll(w)
            if ks.seen_version != self._version or ks.seen_window != w:
                self._refresh(key, ks, w)
            offered = ks.offered_prev * (1.0 - fraction) + ks.offered_curr
            demand = round(offered / window_s, 1)
            prev_total = ks.prev + ks.peer_prev
            estimate = prev_total * (1.0 - fraction) + ks.curr + ks.peer_curr
            if ks.peer_plans:  # what the peers admitted since their last report
                estimate += extrapolated(ks.peer_plans, now, self.sync_interval_s)
            ks.allowance = interval_allowance(
                ks.limit,
                estimate,
                prev_total,
                window_s,
                self.sync_interval_s,
                demand,
                demand + ks.peer_demand,
                self._rand(),
            )
            ks.since_sync = 0
            planned = round(min(demand, ks.allowance / self.sync_interval_s), 1)
            if ks.curr or demand:
                current[key] = (ks.curr, demand, planned)
            if ks.prev:
                previous[key] = (ks.prev, 0.0, 0.0)
            if not (ks.curr or ks.prev or ks.offered_curr or ks.offered_prev):
                empty.append(key)
        for key in empty:
            del self._keys[key]
        out = []
        for index, report in ((w - 1, previous), (w, current)):
            if report and report != self._published.get(index):
                out.append((self.start_ms(index), report))
        for index in [i for i in self._published if i < w - 1]:
            del self._published[index]
        for index in [i for i in self._peers if i < w - 1]:
            del self._peers[index]
        return out

    def published(self, start_ms: int, report: Report) -> None:
        """``report`` of the window starting at ``start_ms`` is stored in etcd."""
        self._published[self.index_of_start(start_ms)] = report

    def forget_published(self) -> None:
        """Write every window again at the next sync (the stored keys are gone)."""
        self._published.clear()

    def idle(self, now: float) -> bool:
        """Nothing counted here and no peer report that still matters."""
        w = self.index(now)
        return not self._keys and not any(i >= w - 1 for i in self._peers)

    def totals(self, now: float) -> dict[str, int]:
        """Counts of all keys in the current and previous window: own and peers'."""
        w = self.index(now)
        own_prev = sum(ks.count_in(w - 1) for ks in self._keys.values())
        own_curr = sum(ks.count_in(w) for ks in self._keys.values())
        peers_prev = sum(sum(r.counts.values()) for r in self._peers.get(w - 1, {}).values())
        peers_curr = sum(sum(r.counts.values()) for r in self._peers.get(w, {}).values())
        return {
            "own_previous": own_prev,
            "own_current": own_curr,
            "peers_previous": peers_prev,
            "peers_current": peers_curr,
        }
