"""One toxic bound to one direction of one connection: its state and its decisions.

A stage never sleeps or touches a socket. Given a chunk (and the time it was
read) it answers with an :data:`Action` (forward these pieces not before these
times, drop, hold, close, reset); the link executes it. That keeps the
behaviour of every toxic testable with plain numbers.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from zonegate.chaos.faultproxy.models import (
    BandwidthAttributes,
    LatencyAttributes,
    LimitDataAttributes,
    ResetPeerAttributes,
    SlicerAttributes,
    SlowCloseAttributes,
    TimeoutAttributes,
    ToxicSpec,
)
from zonegate.chaos.faultproxy.toxicmath import (
    BandwidthPacer,
    LimitCounter,
    latency_delay_s,
    slice_offsets,
)


@dataclass(frozen=True, slots=True)
class Forward:
    """Pass ``pieces`` on, each ``(data, not_before)``; then close the connection if asked."""

    pieces: tuple[tuple[bytes, float], ...]
    close_after: bool = False


@dataclass(frozen=True, slots=True)
class Drop:
    """Swallow the chunk."""


@dataclass(frozen=True, slots=True)
class Hold:
    """Keep the chunk until the toxic is removed, then let it continue."""


@dataclass(frozen=True, slots=True)
class Close:
    """Close the whole connection now (after what was already written)."""


@dataclass(frozen=True, slots=True)
class Reset:
    """Reset both sides (TCP RST) at ``at``."""

    at: float


@dataclass(frozen=True, slots=True)
class Continue:
    """Pass the end of stream on at ``at``."""

    at: float


Action = Forward | Drop | Hold | Close | Reset | Continue


class Stage:
    """A toxic on one link. ``active`` is the toxicity roll: inactive stages pass everything."""

    __slots__ = ("active", "removed", "spec")

    def __init__(self, spec: ToxicSpec, rng: random.Random) -> None:
        self.spec = spec
        self.active = rng.random() < spec.toxicity
        self.removed = False

    def update(self, spec: ToxicSpec, rng: random.Random) -> None:
        """New attributes/toxicity; per-connection state is kept (Toxiproxy re-rolls toxicity)."""
        self.spec = spec
        self.active = rng.random() < spec.toxicity

    def on_data(self, data: bytes, read_at: float, now: float) -> Action:
        return self.toxic_data(data, read_at, now) if self.active else Forward(((data, now),))

    def on_eof(self, now: float) -> Action:
        return self.toxic_eof(now) if self.active else Continue(now)

    def close_deadline(self, now: float) -> float | None:
        """When this stage closes the connection regardless of traffic (timeout)."""
        return None

    @property
    def closes_on_removal(self) -> bool:
        """Removing this toxic closes the connections it held (Toxiproxy's timeout cleanup)."""
        return False

    def toxic_data(self, data: bytes, read_at: float, now: float) -> Action:
        return Forward(((data, now),))

    def toxic_eof(self, now: float) -> Action:
        return Continue(now)


class LatencyStage(Stage):
    """Every chunk leaves ``latency +/- jitter`` after it was read (chunks overlap, not queue)."""

    __slots__ = ("rng",)

    def __init__(self, spec: ToxicSpec, rng: random.Random) -> None:
        super().__init__(spec, rng)
        self.rng = rng

    def toxic_data(self, data: bytes, read_at: float, now: float) -> Action:
        attrs = self.spec.attributes
        assert isinstance(attrs, LatencyAttributes)
        return Forward(
            ((data, read_at + latency_delay_s(attrs.latency, attrs.jitter, self.rng.randrange)),)
        )


class BandwidthStage(Stage):
    __slots__ = ("pacer",)

    def __init__(self, spec: ToxicSpec, rng: random.Random) -> None:
        super().__init__(spec, rng)
        self.pacer = BandwidthPacer(self._rate())

    def _rate(self) -> int:
        attrs = self.spec.attributes
        assert isinstance(attrs, BandwidthAttributes)
        return attrs.rate

    def update(self, spec: ToxicSpec, rng: random.Random) -> None:
        super().update(spec, rng)
        self.pacer.rate_kb_s = self._rate()

    def toxic_data(self, data: bytes, read_at: float, now: float) -> Action:
        schedule = self.pacer.schedule(len(data), now)
        if schedule is None:
            return Hold()
        pieces: list[tuple[bytes, float]] = []
        start = 0
        for end, at in schedule:
            pieces.append((data[start:end], at))
            start = end
        return Forward(tuple(pieces))


class SlowCloseStage(Stage):
    def toxic_eof(self, now: float) -> Action:
        attrs = self.spec.attributes
        assert isinstance(attrs, SlowCloseAttributes)
        return Continue(now + attrs.delay / 1000.0)


class TimeoutStage(Stage):
    """No data passes; the connection closes ``timeout`` ms after the toxic took hold (0: never)."""

    def toxic_data(self, data: bytes, read_at: float, now: float) -> Action:
        return Drop()

    def close_deadline(self, now: float) -> float | None:
        attrs = self.spec.attributes
        assert isinstance(attrs, TimeoutAttributes)
        if not self.active or attrs.timeout == 0:
            return None
        return now + attrs.timeout / 1000.0

    @property
    def closes_on_removal(self) -> bool:
        return self.active


class ResetPeerStage(Stage):
    """The first chunk (or the end of stream) arms a reset ``timeout`` ms later; data is dropped."""

    def _at(self, now: float) -> float:
        attrs = self.spec.attributes
        assert isinstance(attrs, ResetPeerAttributes)
        return now + attrs.timeout / 1000.0

    def toxic_data(self, data: bytes, read_at: float, now: float) -> Action:
        return Reset(self._at(now))

    def toxic_eof(self, now: float) -> Action:
        return Reset(self._at(now))


class SlicerStage(Stage):
    __slots__ = ("rng",)

    def __init__(self, spec: ToxicSpec, rng: random.Random) -> None:
        super().__init__(spec, rng)
        self.rng = rng

    def toxic_data(self, data: bytes, read_at: float, now: float) -> Action:
        attrs = self.spec.attributes
        assert isinstance(attrs, SlicerAttributes)
        offsets = slice_offsets(
            len(data), attrs.average_size, attrs.size_variation, self.rng.randrange
        )
        gap = attrs.delay / 1_000_000.0
        return Forward(
            tuple((data[a:b], now + i * gap) for i, (a, b) in enumerate(offsets) if b > a)
        )


class LimitDataStage(Stage):
    """Passes exactly ``bytes`` bytes in its direction, then closes the connection."""

    __slots__ = ("counter",)

    def __init__(self, spec: ToxicSpec, rng: random.Random) -> None:
        super().__init__(spec, rng)
        self.counter = LimitCounter(self._limit())

    def _limit(self) -> int:
        attrs = self.spec.attributes
        assert isinstance(attrs, LimitDataAttributes)
        return attrs.bytes

    def update(self, spec: ToxicSpec, rng: random.Random) -> None:
        super().update(spec, rng)
        self.counter.limit = self._limit()

    def toxic_data(self, data: bytes, read_at: float, now: float) -> Action:
        allowed = self.counter.admit(len(data))
        if allowed == 0:
            return Close()
        return Forward(((data[:allowed], now),), close_after=self.counter.exhausted)


STAGE_TYPES: dict[str, type[Stage]] = {
    "latency": LatencyStage,
    "bandwidth": BandwidthStage,
    "slow_close": SlowCloseStage,
    "timeout": TimeoutStage,
    "reset_peer": ResetPeerStage,
    "slicer": SlicerStage,
    "limit_data": LimitDataStage,
}


def build_stage(spec: ToxicSpec, rng: random.Random) -> Stage:
    return STAGE_TYPES[spec.type](spec, rng)
