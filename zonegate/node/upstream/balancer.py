"""Load balancers: pick one host among candidates that were already filtered for availability.

Every balancer keeps its per-host-set state (schedule, cumulative weights, hash ring) in a
small cache. Tuples are recognised by identity (one dict lookup on the hot path; the zone
router hands out cached tuples); any other sequence is keyed by the ids of its hosts, so
pass tuples, or lists that are not mutated in place, to stay on the fast path.
"""

from __future__ import annotations

import hashlib
import heapq
import itertools
import math
import random
from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Callable, Collection, Sequence
from typing import Final, Generic, Protocol, TypeVar

from zonegate.config.upstream import LoadBalancer
from zonegate.node.upstream.host import Host

#: Distinct host sets remembered per balancer (local zone, other zones, retry subsets...).
SET_CACHE_SIZE: Final = 16
#: Longest round-robin schedule; larger weight sums are scaled down (approximately).
MAX_SCHEDULE: Final = 4096
#: Ring-hash virtual nodes per unit of weight, and the largest ring built.
VNODES_PER_WEIGHT: Final = 100
MAX_RING: Final = 65536


class Balancer(Protocol):
    """Picks one host among ``hosts``; avoids ``exclude`` unless every host is excluded."""

    def pick(
        self, hosts: Sequence[Host], key: bytes | None, exclude: Collection[Host] = ()
    ) -> Host | None: ...


S = TypeVar("S", bound="_SetState")


class _SetState:
    """State built for one host set; holds the hosts so their ids stay unique while cached."""

    __slots__ = ("hosts",)

    def __init__(self, hosts: tuple[Host, ...]) -> None:
        self.hosts = hosts


class _SetCache(Generic[S]):
    """A bounded map from host set to state built for it."""

    __slots__ = ("_build", "_by_ids", "_by_tuple")

    def __init__(self, build: Callable[[tuple[Host, ...]], S]) -> None:
        self._build = build
        self._by_tuple: dict[int, tuple[tuple[Host, ...], S]] = {}
        self._by_ids: dict[tuple[int, ...], S] = {}

    def get(self, hosts: Sequence[Host]) -> S:
        if type(hosts) is tuple:
            entry = self._by_tuple.get(id(hosts))
            if entry is not None and entry[0] is hosts:
                return entry[1]
            state = self._by_content(hosts)
            if len(self._by_tuple) >= SET_CACHE_SIZE:
                del self._by_tuple[next(iter(self._by_tuple))]
            self._by_tuple[id(hosts)] = (hosts, state)
            return state
        return self._by_content(hosts)

    def _by_content(self, hosts: Sequence[Host]) -> S:
        ids = tuple(map(id, hosts))
        state = self._by_ids.get(ids)
        if state is None:
            if len(self._by_ids) >= SET_CACHE_SIZE:
                del self._by_ids[next(iter(self._by_ids))]
            state = self._build(tuple(hosts))
            self._by_ids[ids] = state
        return state


def _allowed(hosts: Sequence[Host], exclude: Collection[Host]) -> Sequence[Host]:
    """``hosts`` minus ``exclude``; all of ``hosts`` when nothing would remain."""
    allowed = [h for h in hosts if h not in exclude]
    return allowed or hosts


# --- round robin -------------------------------------------------------------------------


def smooth_schedule(weights: Sequence[int]) -> tuple[int, ...]:
    """One cycle of a smooth weighted round robin, as indices into ``weights``.

    Earliest-deadline-first over ideal pick times: host ``i``'s ``j``-th pick is due at
    ``(j - 1 + phase) / w_i``, where hosts of equal weight get evenly staggered phases so
    they do not bunch up. Host ``i`` appears exactly ``w_i / gcd`` times (weights are scaled
    down approximately when their sum exceeds ``MAX_SCHEDULE``). O(T log n) to build.
    """
    if not weights:
        return ()
    divisor = math.gcd(*weights)
    units = [w // divisor for w in weights]
    total = sum(units)
    if total > MAX_SCHEDULE:
        scale = MAX_SCHEDULE / total
        units = [max(1, round(u * scale)) for u in units]
    same_weight: defaultdict[int, list[int]] = defaultdict(list)
    for index, unit in enumerate(units):
        same_weight[unit].append(index)
    phase = [0.5] * len(units)
    for members in same_weight.values():
        for rank, index in enumerate(members):
            phase[index] = (rank + 0.5) / len(members)
    heap = [(phase[i] / u, i, 1) for i, u in enumerate(units)]
    heapq.heapify(heap)
    order: list[int] = []
    while heap:
        _, index, nth = heap[0]
        order.append(index)
        if nth < units[index]:
            heapq.heapreplace(heap, ((nth + phase[index]) / units[index], index, nth + 1))
        else:
            heapq.heappop(heap)
    return tuple(order)


class _Schedule(_SetState):
    __slots__ = ("order", "position")

    def __init__(self, hosts: tuple[Host, ...], rng: random.Random) -> None:
        super().__init__(hosts)
        self.order = smooth_schedule([h.weight for h in hosts])
        # Start at a random point so many nodes do not all begin with the same host.
        self.position = rng.randrange(len(self.order)) if self.order else 0


class RoundRobin:
    """Smooth weighted round robin over each host set."""

    __slots__ = ("_sets",)

    def __init__(self, rng: random.Random) -> None:
        self._sets: _SetCache[_Schedule] = _SetCache(lambda hosts: _Schedule(hosts, rng))

    def pick(
        self, hosts: Sequence[Host], key: bytes | None, exclude: Collection[Host] = ()
    ) -> Host | None:
        if len(hosts) <= 1:
            return hosts[0] if hosts else None
        state = self._sets.get(hosts)
        order = state.order
        size = len(order)
        position = state.position
        host = state.hosts[order[position]]
        if exclude and host in exclude:
            for step in range(1, size):
                candidate = state.hosts[order[(position + step) % size]]
                if candidate not in exclude:
                    position = (position + step) % size
                    host = candidate
                    break
        position += 1
        state.position = 0 if position >= size else position
        return host


# --- weighted sampling: random and least request --------------------------------------------


class _Weights(_SetState):
    __slots__ = ("cumulative", "total", "uniform")

    def __init__(self, hosts: tuple[Host, ...]) -> None:
        super().__init__(hosts)
        weights = [h.weight for h in hosts]
        self.uniform = len(set(weights)) <= 1
        self.cumulative = list(itertools.accumulate(weights))
        self.total = self.cumulative[-1] if weights else 0

    def sample(self, draw: Callable[[], float]) -> Host:
        """One host, chosen with probability proportional to its weight."""
        hosts = self.hosts
        if self.uniform:
            return hosts[int(draw() * len(hosts))]
        index = bisect_right(self.cumulative, draw() * self.total)
        return hosts[index if index < len(hosts) else len(hosts) - 1]


class RandomBalancer:
    """Weighted random choice."""

    __slots__ = ("_draw", "_sets")

    def __init__(self, rng: random.Random) -> None:
        self._draw = rng.random
        self._sets: _SetCache[_Weights] = _SetCache(_Weights)

    def pick(
        self, hosts: Sequence[Host], key: bytes | None, exclude: Collection[Host] = ()
    ) -> Host | None:
        if len(hosts) <= 1:
            return hosts[0] if hosts else None
        if exclude:
            hosts = _allowed(hosts, exclude)
        return self._sets.get(hosts).sample(self._draw)


class LeastRequest:
    """Power of two choices: two weighted draws, keep the one with less ``active / weight``.

    Ties keep the first draw, so with no load the traffic split follows the weights.
    """

    __slots__ = ("_draw", "_sets")

    def __init__(self, rng: random.Random) -> None:
        self._draw = rng.random
        self._sets: _SetCache[_Weights] = _SetCache(_Weights)

    def pick(
        self, hosts: Sequence[Host], key: bytes | None, exclude: Collection[Host] = ()
    ) -> Host | None:
        if len(hosts) <= 1:
            return hosts[0] if hosts else None
        if exclude:
            hosts = _allowed(hosts, exclude)
            if len(hosts) == 1:
                return hosts[0]
        state = self._sets.get(hosts)
        first = state.sample(self._draw)
        second = state.sample(self._draw)
        # second.active / second.weight < first.active / first.weight, without division
        if second.active_requests * first.weight < first.active_requests * second.weight:
            return second
        return first


# --- consistent hashing ----------------------------------------------------------------------


def hash64(data: bytes) -> int:
    """A fast, well-mixed, stable 64-bit hash (the same on every node and every run)."""
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "little")


class _Ring(_SetState):
    __slots__ = ("hashes", "owners")

    def __init__(self, hosts: tuple[Host, ...], points: list[tuple[int, int]]) -> None:
        super().__init__(hosts)
        points.sort()
        self.hashes = [p[0] for p in points]
        self.owners = [p[1] for p in points]


class RingHash:
    """Consistent hashing of the request key over a ring of virtual nodes per host.

    A host owns ``VNODES_PER_WEIGHT * weight`` points placed by hashing ``"address_i"``, so
    every node builds the same ring for the same hosts, and removing one host of N remaps
    only about 1/N of the keys. Requests without a key get a weighted random host.
    """

    __slots__ = ("_draw", "_points", "_sets")

    def __init__(self, rng: random.Random) -> None:
        self._draw = rng.random
        self._points: dict[tuple[str, int], list[int]] = {}
        self._sets: _SetCache[_Ring] = _SetCache(self._build)

    def _vnode_hashes(self, address: str, count: int) -> list[int]:
        cached = self._points.get((address, count))
        if cached is None:
            if len(self._points) >= 4096:
                self._points.clear()
            cached = [hash64(f"{address}_{i}".encode()) for i in range(count)]
            self._points[(address, count)] = cached
        return cached

    def _build(self, hosts: tuple[Host, ...]) -> _Ring:
        total_weight = sum(h.weight for h in hosts)
        per_weight = max(1, min(VNODES_PER_WEIGHT, MAX_RING // max(total_weight, 1)))
        points: list[tuple[int, int]] = []
        for index, host in enumerate(hosts):
            points.extend(
                (h, index) for h in self._vnode_hashes(host.address, host.weight * per_weight)
            )
        return _Ring(hosts, points)

    def pick(
        self, hosts: Sequence[Host], key: bytes | None, exclude: Collection[Host] = ()
    ) -> Host | None:
        if len(hosts) <= 1:
            return hosts[0] if hosts else None
        ring = self._sets.get(hosts)
        size = len(ring.hashes)
        if key is None:
            position = int(self._draw() * size)
        else:
            position = bisect_left(ring.hashes, hash64(key))
            if position == size:
                position = 0
        host = ring.hosts[ring.owners[position]]
        if exclude and host in exclude and any(h not in exclude for h in ring.hosts):
            # Walk clockwise to the next host that is not excluded, as a retry would.
            for step in range(1, size):
                candidate = ring.hosts[ring.owners[(position + step) % size]]
                if candidate not in exclude:
                    return candidate
        return host


def make_balancer(cfg: LoadBalancer, rng: random.Random) -> Balancer:
    """The balancer for a cluster's ``lb`` config."""
    if cfg.policy == "round_robin":
        return RoundRobin(rng)
    if cfg.policy == "random":
        return RandomBalancer(rng)
    if cfg.policy == "ring_hash":
        return RingHash(rng)
    return LeastRequest(rng)
