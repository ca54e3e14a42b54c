"""Error-rate circuit breaker: closed -> open -> half-open -> closed (or open again).

Closed: every request passes; outcomes go into a rolling window of ``window_s`` split
into ``BUCKETS`` buckets. When the window holds at least ``min_requests`` outcomes and
the failed share reaches ``threshold`` (with at least one failure), the breaker opens.
Open: nothing passes for ``open_s``. Half-open: ``half_open_requests`` trial requests
pass; when all of them succeed the breaker closes with an empty window, and any trial
failure opens it again. Trials that never report are written off after another
``open_s`` so a lost trial cannot wedge the breaker half-open.

Outcomes reported while open are ignored; while half-open at most as many outcomes as
trials were let through are counted (a late answer to a request started before the
breaker opened may stand in for a trial).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from zonegate.config.upstream import ErrorRateBreaker as ErrorRateBreakerConfig

CLOSED: Final = "closed"
OPEN: Final = "open"
HALF_OPEN: Final = "half_open"
#: Gauge values of the states.
STATE_VALUES: Final = {CLOSED: 0, OPEN: 1, HALF_OPEN: 2}
#: Buckets of the rolling window.
BUCKETS: Final = 10


class ErrorRateBreaker:
    """One cluster's breaker; ``clock`` is monotonic seconds."""

    __slots__ = (
        "_bucket",
        "_clock",
        "_errors",
        "_failed",
        "_requests",
        "_since",
        "_state",
        "_total",
        "_trials_done",
        "_trials_issued",
        "_width",
        "cfg",
        "on_state_change",
        "opens_total",
    )

    def __init__(
        self,
        cfg: ErrorRateBreakerConfig,
        clock: Callable[[], float],
        on_state_change: Callable[[str], None] | None = None,
    ) -> None:
        self.cfg = cfg
        self._clock = clock
        self.on_state_change = on_state_change
        self._width = cfg.window_s / BUCKETS
        self._requests = [0] * BUCKETS
        self._errors = [0] * BUCKETS
        self._total = 0
        self._failed = 0
        self._bucket = int(clock() // self._width)
        self._state = CLOSED
        self._since = 0.0  # when the breaker entered OPEN or HALF_OPEN
        self._trials_issued = 0
        self._trials_done = 0
        #: How many times the breaker opened (for metrics).
        self.opens_total = 0

    # --- observation ----------------------------------------------------------------

    @property
    def state(self) -> str:
        """``"closed"``, ``"open"`` or ``"half_open"`` (an elapsed open period is noticed)."""
        if self._state is OPEN and self._clock() >= self._since + self.cfg.open_s:
            self._half_open(self._clock())
        return self._state

    @property
    def state_value(self) -> int:
        """0 closed, 1 open, 2 half-open: for a gauge."""
        return STATE_VALUES[self.state]

    @property
    def window(self) -> tuple[int, int]:
        """(requests, failures) in the rolling window as last updated."""
        return self._total, self._failed

    # --- hot path ------------------------------------------------------------------------

    def allow(self) -> bool:
        """May a request go to the cluster now? Counts half-open trials."""
        state = self._state
        if state is CLOSED or not self.cfg.enabled:
            return True
        now = self._clock()
        if state is OPEN:
            if now < self._since + self.cfg.open_s:
                return False
            self._half_open(now)
        if self._trials_issued < self.cfg.half_open_requests:
            self._trials_issued += 1
            return True
        if now >= self._since + self.cfg.open_s:  # trials lost: let a fresh round through
            self._since = now
            self._trials_issued, self._trials_done = 1, 0
            return True
        return False

    def record(self, success: bool) -> None:
        """The outcome of one request that ``allow()`` let through."""
        state = self._state
        if state is CLOSED:
            if not self.cfg.enabled:
                return
            now = self._clock()
            bucket = int(now // self._width)
            if bucket != self._bucket:
                self._advance(bucket)
            slot = bucket % BUCKETS
            self._requests[slot] += 1
            self._total += 1
            if not success:
                self._errors[slot] += 1
                self._failed += 1
            if (
                self._failed
                and self._total >= self.cfg.min_requests
                and self._failed >= self.cfg.threshold * self._total
            ):
                self._open(now)
        elif state is HALF_OPEN and self._trials_done < self._trials_issued:
            self._trials_done += 1
            if not success:
                self._open(self._clock())
            elif self._trials_done >= self.cfg.half_open_requests:
                self._close()

    # --- transitions ------------------------------------------------------------------------

    def _advance(self, bucket: int) -> None:
        """Move the window to ``bucket``, dropping the buckets that fell out of it."""
        steps = bucket - self._bucket
        if steps >= BUCKETS or steps < 0:
            self._reset_window()
        else:
            for k in range(1, steps + 1):
                slot = (self._bucket + k) % BUCKETS
                self._total -= self._requests[slot]
                self._failed -= self._errors[slot]
                self._requests[slot] = 0
                self._errors[slot] = 0
        self._bucket = bucket

    def _reset_window(self) -> None:
        for slot in range(BUCKETS):
            self._requests[slot] = 0
            self._errors[slot] = 0
        self._total = self._failed = 0

    def _open(self, now: float) -> None:
        self._since = now
        self.opens_total += 1
        self._set(OPEN)

    def _half_open(self, now: float) -> None:
        self._since = now
        self._trials_issued = self._trials_done = 0
        self._set(HALF_OPEN)

    def _close(self) -> None:
        self._reset_window()
        self._bucket = int(self._clock() // self._width)
        self._set(CLOSED)

    def _set(self, state: str) -> None:
        self._state = state
        if self.on_state_change is not None:
            self.on_state_change(state)
