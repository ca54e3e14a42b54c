"""Passive health: eject hosts after consecutive failures, as Envoy's outlier detection does.

Upstream answers (5xx) and local failures (connect refused, reset, timeout) are counted
apart; a success resets both counters, a 5xx resets the local one (the connection worked).
An ejection lasts ``base_ejection_s * ejection_count`` seconds, capped at ``max_ejection_s``.
No host is ejected while ``max_ejection_percent`` of the cluster already is (checked before
the ejection, so with any non-zero percentage at least one host can be ejected).
Ejected hosts come back by themselves (``Host.available`` reads ``ejected_until``);
:meth:`OutlierDetector.sweep`, run periodically, reports returns and lowers the ejection
count by one for every ``base_ejection_s`` a host stays in service.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Final

from zonegate.config.upstream import OutlierDetection
from zonegate.node.upstream.host import Host

REASON_5XX: Final = "consecutive_5xx"
REASON_LOCAL: Final = "consecutive_local_failures"


class OutlierDetector:
    """Counts consecutive failures per host and ejects outliers; ``clock`` is monotonic."""

    __slots__ = (
        "_clock",
        "_decaying",
        "_ejected",
        "_hosts",
        "_max_count",
        "cfg",
        "ejections_overflow",
        "ejections_total",
        "on_eject",
        "on_return",
    )

    def __init__(
        self,
        cfg: OutlierDetection,
        clock: Callable[[], float],
        on_eject: Callable[[Host, str], None] | None = None,
        on_return: Callable[[Host], None] | None = None,
    ) -> None:
        self.cfg = cfg
        self._clock = clock
        self.on_eject = on_eject
        self.on_return = on_return
        self._hosts: tuple[Host, ...] = ()
        # Hosts ejected and not yet seen back by sweep(); insertion-ordered.
        self._ejected: dict[Host, None] = {}
        # Hosts back in service with ejection_count > 0 -> time the count last decayed from.
        self._decaying: dict[Host, float] = {}
        # The multiplier stops growing once it reaches the cap, so it decays in bounded time.
        self._max_count = max(1, math.ceil(cfg.max_ejection_s / cfg.base_ejection_s))
        #: Ejections done, and ejections refused by max_ejection_percent (for metrics).
        self.ejections_total = 0
        self.ejections_overflow = 0

    def set_hosts(self, hosts: Sequence[Host]) -> None:
        """The cluster's current hosts: the base of max_ejection_percent. Drops removed hosts."""
        self._hosts = tuple(hosts)
        keep = set(self._hosts)
        for tracked in (self._ejected, self._decaying):
            for host in [h for h in tracked if h not in keep]:
                del tracked[host]

    # --- hot path -------------------------------------------------------------------------

    def record_success(self, host: Host) -> None:
        host.consecutive_5xx = 0
        host.consecutive_local_failures = 0

    def record_5xx(self, host: Host) -> None:
        host.consecutive_local_failures = 0
        host.consecutive_5xx += 1
        if host.consecutive_5xx >= self.cfg.consecutive_5xx:
            self._eject(host, REASON_5XX)

    def record_local_failure(self, host: Host) -> None:
        """Connect refused, reset or timeout: the request never got an answer."""
        host.consecutive_local_failures += 1
        if host.consecutive_local_failures >= self.cfg.consecutive_local_failures:
            self._eject(host, REASON_LOCAL)

    # --- ejection -------------------------------------------------------------------------

    def ejected_count(self, now: float | None = None) -> int:
        """How many hosts are ejected at ``now`` (default: the clock)."""
        at = self._clock() if now is None else now
        return sum(1 for h in self._ejected if h.ejected_until > at)

    def _eject(self, host: Host, reason: str) -> None:
        now = self._clock()
        if host.ejected_until > now:  # already out (panic traffic still reaches it)
            host.consecutive_5xx = host.consecutive_local_failures = 0
            return
        active = self.ejected_count(now)
        if 100.0 * active >= self.cfg.max_ejection_percent * max(1, len(self._hosts)):
            # Counters are kept: the next failure tries again once others have returned.
            self.ejections_overflow += 1
            return
        if host in self._ejected:  # back since ejected_until, but sweep() has not seen it
            self._returned(host, host.ejected_until)
        self._decay(host, now)
        host.ejection_count = min(host.ejection_count + 1, self._max_count)
        duration = min(self.cfg.base_ejection_s * host.ejection_count, self.cfg.max_ejection_s)
        host.ejected_until = now + duration
        host.consecutive_5xx = host.consecutive_local_failures = 0
        self._ejected[host] = None
        self._decaying.pop(host, None)
        self.ejections_total += 1
        if self.on_eject is not None:
            self.on_eject(host, reason)

    def uneject(self, host: Host) -> None:
        """Bring a host back now (an active health check passed) and clear its counters."""
        now = self._clock()
        host.ejected_until = min(host.ejected_until, now)
        if host in self._ejected:
            self._returned(host, now)

    def sweep(self) -> list[Host]:
        """Report hosts whose ejection ended and decay ejection counts; returns the former."""
        now = self._clock()
        back = [h for h in self._ejected if h.ejected_until <= now]
        for host in back:
            self._returned(host, host.ejected_until)
        for host in list(self._decaying):
            self._decay(host, now)
        return back

    def _returned(self, host: Host, since: float) -> None:
        del self._ejected[host]
        # Like Envoy: a returning host starts from zero, not one failure from re-ejection.
        host.consecutive_5xx = host.consecutive_local_failures = 0
        if host.ejection_count > 0:
            self._decaying[host] = since
        if self.on_return is not None:
            self.on_return(host)

    def _decay(self, host: Host, now: float) -> None:
        """One ejection forgiven per ``base_ejection_s`` in service since the last decay."""
        since = self._decaying.get(host)
        if since is None:
            return
        steps = int((now - since) // self.cfg.base_ejection_s)
        if steps <= 0:
            return
        host.ejection_count = max(0, host.ejection_count - steps)
        if host.ejection_count == 0:
            del self._decaying[host]
        else:
            self._decaying[host] = since + steps * self.cfg.base_ejection_s
