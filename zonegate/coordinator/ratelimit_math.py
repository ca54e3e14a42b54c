"""The math of cluster-wide rate limits (pure: no I/O, no asyncio, injected times).

Algorithm: a sliding-window counter over synced per-node buckets, where the
room that frees up between two syncs is split by demand when nodes contend.

- Time is cut into aligned windows of ``P`` seconds (wall clock, so that every
  node agrees on them; periods shorter than :data:`MIN_WINDOW_S` are stretched
  with the limit scaled, keeping the rate). A limit allows ``L`` requests per
  ``P``.
- Each node counts per key what it admits and what it is offered, in the
  current and the previous window, exactly. Every sync interval ``S`` it
  writes, per window, its admitted count, its offered rate (demand) and its
  planned admission rate until its next sync, to one etcd key per node and
  window; it learns the other nodes' reports by watching.
- A node's estimate for a key, at fraction ``f`` of the current window::

      E = (own_prev + Σ peers_prev) x (1 - f) + own_curr + Σ peers_curr + X

  with ``X = Σ_j plan_j x min(age_j, S)``, what each peer has admitted since its
  last report arrived ``age_j`` ago, as far as its plan tells (reports older
  than ``3 S`` add nothing). Own counts include the unsynced ones ("the global
  estimate plus the unsynced local count"). A request of cost ``c`` is admitted
  iff ``E + c <= L`` and the node's admissions since its last sync stay within
  its allowance.
- Allowance (:func:`interval_allowance`), set at each sync: the room until the
  next sync is ``L - E + prev x S / P`` (headroom plus what slides out). If the
  cluster's demand x ``S`` fits in it there is no cap (plan = demand);
  otherwise the node gets ``room x own_demand / total_demand`` (plan =
  allowance / ``S``). So the nodes split the freed room instead of racing for
  it (without this, each node grabs the same room before hearing of the others:
  +4-6 % at 3x overload), and a request has the same chance on every node.
- etcd unreachable (or the node's view stale): each node admits against its
  own counts only, up to ``ceil(L / N)`` with ``N`` the live nodes last seen
  in the registrations.

Worst-case overshoot. Let ``D`` be the longest time from a node's count to its
arrival at the others (etcd write + watch delivery; a node whose sync write
or watch lags more than its sync timeout leaves shared mode), ``Δ = S + D``,
and ``r_j`` the rate of requests offered at node ``j``. A node's view misses at
most what the others admitted in the last ``Δ`` (``X`` and the allowances only
ever refuse more), so whenever node ``i`` admits, the true estimate is at most
``L + Σ_{j≠i} unseen_j``, and the sliding estimate never exceeds::

      L + Σ_{j≠i} min(L, r_j x Δ)        <= L + (N - 1) x L

(:func:`overshoot_bound`). E.g. 3 nodes, 900 req/s offered 70/20/10, ``S`` =
100 ms, ``D`` = 10 ms: at most 300 + 0.11 x (630 + 180) ≈ 389 in a window. That
worst case needs every node to find the same room at once with stale demand
figures (a burst at every node after a quiet spell); in steady state the
allowances add up to the room and the admitted rate stays within about 1 % of
``L``. On top of this comes the sliding-window counter's own approximation
(it assumes the previous window's requests were spread evenly), as for the
local limiter. Fallback admits at most ``N x ceil(L / N) <= L + N - 1`` per
window while ``N`` is right.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

EPSILON = 1e-9
MIN_WINDOW_S = 1.0
QUIET_AFTER_INTERVALS = 3.0
MS_TOLERANCE = 0.001
"""Float error allowed in epoch milliseconds (a timestamp 1 µs before a window start
belongs to that window)."""


@dataclass(frozen=True, slots=True)
class GlobalWindow:
    """``limit`` requests per aligned window of ``window_s`` seconds."""

    limit: int
    window_s: float

    @property
    def window_ms(self) -> int:
        return round(self.window_s * 1000)

    def index(self, now: float) -> int:
        """The window ``now`` (epoch seconds) falls in."""
        return window_index(now, self.window_ms)

    def start_ms(self, index: int) -> int:
        """The key segment of window ``index``: its start in ms since the epoch."""
        return index * self.window_ms

    def index_of_start(self, start_ms: int) -> int:
        return start_ms // self.window_ms


def window_index(now: float, window_ms: int) -> int:
    """The window ``now`` (epoch seconds) falls in, computed in milliseconds (exact at
    window starts, whatever the float error of ``now / window_s``)."""
    return math.floor(now * 1000.0 + MS_TOLERANCE) // window_ms


def global_window(
    requests: int, period_s: float, min_window_s: float = MIN_WINDOW_S
) -> GlobalWindow:
    """``requests`` per ``period_s``, with periods under ``min_window_s`` stretched
    (limit scaled by the same factor), so windows outlast many sync intervals."""
    if requests < 1 or period_s <= 0:
        raise ValueError("requests must be >= 1 and period_s > 0")
    if period_s >= min_window_s:
        return GlobalWindow(requests, period_s)
    factor = math.ceil(min_window_s / period_s - EPSILON)
    return GlobalWindow(requests * factor, period_s * factor)


def sliding_estimate(prev: float, curr: float, fraction: float) -> float:
    """The previous window's count weighted by how much of it still overlaps."""
    return prev * (1.0 - fraction) + curr


def local_share(limit: int, live_nodes: int) -> int:
    """What one node may admit alone while etcd is unreachable: ``ceil(L / N)``."""
    return max(1, math.ceil(limit / max(1, live_nodes) - EPSILON))


def interval_allowance(
    limit: float,
    estimate: float,
    prev_total: float,
    window_s: float,
    interval_s: float,
    own_demand: float,
    total_demand: float,
    draw: float,
) -> float:
    """What one node may admit until its next sync (``inf``: no cap).

    Over the next interval the cluster has room for the headroom now plus what
    slides out of the previous window (``prev x S / P``). When the whole
    cluster's demand (requests offered per second, all nodes) over the interval
    fits in that room there is no contention and no cap. Otherwise the room is
    split by demand: this node may admit ``room x own / total``, whose fraction
    is rounded up with that probability (``draw`` is uniform in [0, 1)), so
    small limits are neither starved nor exceeded by rounding.
    """
    room = max(0.0, limit - estimate + prev_total * interval_s / window_s)
    if total_demand * interval_s <= room:
        return math.inf
    if own_demand <= 0 or total_demand <= 0:
        return 0.0
    share = room * min(1.0, own_demand / total_demand)
    whole = math.floor(share)
    return float(whole + (1 if draw < share - whole else 0))


def extrapolated(plans: Iterable[tuple[float, float]], now: float, interval_s: float) -> float:
    """``Σ rate x min(age, S)`` over (planned rate, received_at) of the peers' latest
    reports: what they admitted since, as far as their plans tell. A report older
    than ``3 S`` adds nothing (a peer that still admits reports every interval)."""
    quiet = QUIET_AFTER_INTERVALS * interval_s
    total = 0.0
    for rate, received_at in plans:
        age = now - received_at
        if 0.0 < age <= quiet:
            total += rate * min(age, interval_s)
    return total


def overshoot_bound(
    limit: int, peer_rates: Iterable[float], sync_interval_s: float, delay_s: float
) -> float:
    """Worst-case excess of the sliding estimate over ``limit`` seen from one node:
    ``Σ_{j≠i} min(L, r_j x (S + D))`` for the other nodes' offered rates ``r_j``."""
    lag = sync_interval_s + delay_s
    return sum(min(float(limit), rate * lag) for rate in peer_rates)


def reset_after(window_s: float, elapsed: float, prev: float, curr: float) -> float:
    """Seconds until both windows' counts have slid out."""
    if curr > 0:
        return 2 * window_s - elapsed
    if prev > 0:
        return window_s - elapsed
    return 0.0


def retry_after(
    limit: float, window_s: float, elapsed: float, prev: float, curr: float, cost: int
) -> float:
    """Seconds until a request of ``cost`` would fit, if nothing else is admitted."""
    if cost > limit:
        return math.inf
    if curr + cost <= limit:
        if prev <= 0:
            return 0.0
        # prev * (1 - t / P) + curr + cost <= limit, later in this window
        t = window_s * (1.0 - (limit - curr - cost) / prev)
        return max(0.0, t - elapsed)
    t_next = window_s * (1.0 - (limit - cost) / curr)
    return (window_s - elapsed) + max(0.0, t_next)
