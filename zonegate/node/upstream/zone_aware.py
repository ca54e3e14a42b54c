"""Zone-aware candidate selection with Envoy's priority, overprovisioning and panic semantics.

Priority 0 is the local zone, priority 1 every other zone. A priority's health is
``min(100, factor * 100 * available / total)``; priority 0 takes ``health(P0)`` percent
of the traffic and the rest spills to priority 1 (when the two healths add up to less
than 100 both are scaled up, like Envoy's normalised priority load). When fewer than
``panic_threshold`` of all hosts are available the router panics and returns every host,
healthy or not, since overloading the few survivors would be worse.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from typing import Final

from zonegate.config.upstream import ZoneAware
from zonegate.node.upstream.host import Host

_EMPTY: Final[tuple[Host, ...]] = ()


class ZoneRouter:
    """Chooses the candidate hosts for one request.

    The filtered tuples and the local share are cached and recomputed only when the host
    sequence passed in is a different object (or changes length), when ``now`` reaches the
    earliest ejection expiry, or after :meth:`invalidate`. Call ``invalidate()`` whenever a
    host's health, its ejection or the host list's contents change in place.
    """

    __slots__ = (
        "_draw",
        "_hosts_len",
        "_hosts_ref",
        "_local",
        "_local_share",
        "_remote",
        "_valid_until",
        "cfg",
        "last_panic",
        "local_zone",
        "spill_fraction",
    )

    def __init__(self, local_zone: str, cfg: ZoneAware, rng: random.Random) -> None:
        self.local_zone = local_zone
        self.cfg = cfg
        self._draw = rng.random
        self._hosts_ref: Sequence[Host] | None = None
        self._hosts_len = -1
        self._valid_until = -math.inf
        #: What the router returns: ``_local`` with probability ``_local_share``, else
        #: ``_remote``. Outside zone-aware routing ``_local`` holds the whole answer.
        self._local: tuple[Host, ...] = _EMPTY
        self._remote: tuple[Host, ...] = _EMPTY
        self._local_share = 1.0
        #: True when the last recomputation found the cluster in panic.
        self.last_panic = False
        #: Expected fraction of requests sent outside the local zone (for metrics).
        self.spill_fraction = 0.0

    def invalidate(self) -> None:
        """Forget the cached candidate sets; the next ``choose`` recomputes them."""
        self._valid_until = -math.inf

    def choose(self, hosts: Sequence[Host], now: float) -> Sequence[Host]:
        """The hosts one request may go to; empty when none is available (and no panic)."""
        if (
            hosts is not self._hosts_ref
            or now >= self._valid_until
            or len(hosts) != self._hosts_len
        ):
            self._recompute(hosts, now)
        share = self._local_share
        if share >= 1.0:
            return self._local
        if share <= 0.0:
            return self._remote
        return self._local if self._draw() < share else self._remote

    @property
    def local_share(self) -> float:
        """Fraction of requests that go to the local zone's candidates."""
        return self._local_share

    # --- recomputation (off the hot path) ------------------------------------------------

    def _recompute(self, hosts: Sequence[Host], now: float) -> None:
        self._hosts_ref = hosts
        self._hosts_len = len(hosts)
        self._valid_until = min(
            (h.ejected_until for h in hosts if h.ejected_until > now), default=math.inf
        )
        available = tuple(h for h in hosts if h.available(now))
        total = len(hosts)
        self.last_panic = total > 0 and len(available) < self.cfg.panic_threshold * total
        if self.last_panic:
            self._mixed(tuple(hosts))
            return
        local_total = sum(1 for h in hosts if h.zone == self.local_zone)
        if not self.cfg.enabled or not self.local_zone or local_total == 0:
            self._mixed(available)
            return
        local = tuple(h for h in available if h.zone == self.local_zone)
        remote = tuple(h for h in available if h.zone != self.local_zone)
        remote_total = total - local_total
        factor = self.cfg.overprovisioning_factor * 100.0
        health_local = min(100.0, factor * len(local) / local_total)
        health_remote = min(100.0, factor * len(remote) / remote_total) if remote_total else 0.0
        normalised_total = min(100.0, health_local + health_remote)
        self._local, self._remote = local, remote
        if normalised_total <= 0.0:
            self._local_share = 1.0  # nothing available anywhere: answer with the empty set
            self.spill_fraction = 0.0
            return
        self._local_share = health_local / normalised_total
        self.spill_fraction = 1.0 - self._local_share

    def _mixed(self, candidates: tuple[Host, ...]) -> None:
        """Every request gets the same candidates, whatever their zone."""
        self._local, self._remote, self._local_share = candidates, _EMPTY, 1.0
        total_weight = sum(h.weight for h in candidates)
        outside = sum(h.weight for h in candidates if h.zone != self.local_zone)
        self.spill_fraction = outside / total_weight if total_weight else 0.0
