"""Zone choice with Envoy priority semantics, failback hold-down and ramp. Pure, clocked.

Each zone's health is ``min(1, factor * healthy / total)``. For one client
region the zones are tried in preference order: the first takes as much
traffic as its health allows, the rest spills to the next (Envoy's priority
load with an overprovisioning factor). A zone that lost health only takes
traffic back after it has been fully healthy for ``hold_down_s``, and then
gradually over ``ramp_s``, so a flapping zone does not flap traffic.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

Clock = Callable[[], float]


@dataclass
class ZoneState:
    healthy: int = 0
    total: int = 0
    #: The zone lost health at some point and has not finished its failback ramp.
    degraded: bool = False
    #: When the zone became fully healthy again (start of the hold-down).
    recovered_at: float | None = None


@dataclass(frozen=True)
class Transition:
    at: float
    zone: str
    event: str  # "degraded", "down", "recovering", "restored"


class ZoneSelector:
    """Traffic shares per zone for a client region's preference list."""

    def __init__(
        self,
        *,
        factor: float = 1.4,
        hold_down_s: float = 10.0,
        ramp_s: float = 5.0,
        fail_open: bool = True,
        clock: Clock,
        history: int = 100,
    ) -> None:
        self.factor = factor
        self.hold_down_s = hold_down_s
        self.ramp_s = ramp_s
        self.fail_open = fail_open
        self.clock = clock
        self.zones: dict[str, ZoneState] = {}
        self.transitions: deque[Transition] = deque(maxlen=history)
        self._cache: dict[tuple[str, ...], tuple[list[str], list[float]]] = {}
        self._settling = False

    # --- updates -------------------------------------------------------------
    def update(self, zone: str, healthy: int, total: int) -> None:
        """The zone now has ``healthy`` of ``total`` nodes serving."""
        state = self.zones.setdefault(zone, ZoneState())
        first = state.total == 0 and not state.degraded and state.healthy == 0
        state.healthy, state.total = healthy, total
        now = self.clock()
        full = self._raw_health(state) >= 1.0
        if first and full:
            pass  # a zone seen healthy from the start needs no hold-down
        elif not full:
            if not state.degraded or state.recovered_at is not None:
                self._record(now, zone, "down" if healthy == 0 else "degraded")
            state.degraded = True
            state.recovered_at = None
        elif state.degraded and state.recovered_at is None:
            state.recovered_at = now
            self._record(now, zone, "recovering")
        self._cache.clear()

    def _record(self, now: float, zone: str, event: str) -> None:
        self.transitions.append(Transition(now, zone, event))

    # --- health ------------------------------------------------------------------
    def _raw_health(self, state: ZoneState) -> float:
        if state.total <= 0:
            return 0.0
        return min(1.0, self.factor * state.healthy / state.total)

    def effective_health(self, zone: str, now: float | None = None) -> float:
        """Health after hold-down and ramp (what traffic it may take)."""
        state = self.zones.get(zone)
        if state is None:
            return 0.0
        raw = self._raw_health(state)
        if not state.degraded:
            return raw
        if state.recovered_at is None:
            return raw  # partly healthy: takes what it can, the rest spills
        now = self.clock() if now is None else now
        elapsed = now - state.recovered_at - self.hold_down_s
        if elapsed < 0:
            self._settling = True
            return 0.0
        if elapsed >= self.ramp_s:
            state.degraded = False
            state.recovered_at = None
            self._record(now, zone, "restored")
            return raw
        self._settling = True
        return raw * elapsed / self.ramp_s

    # --- choice --------------------------------------------------------------------
    def shares(self, preference: Sequence[str]) -> tuple[list[str], list[float]]:
        """Zones and their traffic shares (summing to 1), or empty lists (fail closed)."""
        key = tuple(preference)
        cached = self._cache.get(key)
        if cached is not None and not self._settling:
            return cached
        self._settling = False
        now = self.clock()
        health = [self.effective_health(z, now) for z in preference]
        if not any(health):
            # Every zone is held down or ramping: better a recovering zone than none.
            health = [self._raw_health(self.zones[z]) if z in self.zones else 0.0 for z in key]
        zones: list[str] = []
        shares: list[float] = []
        remaining = 1.0
        for zone, h in zip(preference, health, strict=True):
            if remaining <= 0:
                break
            share = min(remaining, h)
            if share > 0:
                zones.append(zone)
                shares.append(share)
                remaining -= share
        total = sum(shares)
        if total <= 0:
            if self.fail_open:
                zones = [z for z in preference if self.zones.get(z, ZoneState()).total > 0]
                shares = [1.0 / len(zones)] * len(zones) if zones else []
            result = (zones, shares)
        else:
            result = (zones, [s / total for s in shares])
        self._cache[key] = result
        return result

    def panic(self, preference: Sequence[str]) -> bool:
        """True when no zone of the preference has a healthy node."""
        return not any(self._raw_health(self.zones[z]) for z in preference if z in self.zones)

    def choose(self, preference: Sequence[str], rng: random.Random) -> str | None:
        zones, shares = self.shares(preference)
        if not zones:
            return None
        if len(zones) == 1:
            return zones[0]
        draw = rng.random()
        for zone, share in zip(zones, shares, strict=True):
            draw -= share
            if draw < 0:
                return zone
        return zones[-1]
