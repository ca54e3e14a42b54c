"""Active HTTP health checks of upstream hosts.

Each host is probed on its own jittered schedule: ``interval_s`` while its
state is settled, ``fast_interval_s`` while it is between states (some
successes after a failure or the reverse). ``healthy_threshold`` successes
in a row make a host healthy, ``unhealthy_threshold`` failures unhealthy.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Sequence

from zonegate.config.upstream import HealthCheck
from zonegate.node.upstream.host import Host

log = logging.getLogger("zonegate.health")

HealthCallback = Callable[[Host, bool, bool], None]
"""(host, probe succeeded, host state changed)."""


class HostHealthState:
    """Rise/fall counting for one host: pure, no I/O."""

    __slots__ = ("cfg", "failures", "host", "successes")

    def __init__(self, host: Host, cfg: HealthCheck) -> None:
        self.host = host
        self.cfg = cfg
        self.successes = 0
        self.failures = 0

    def record(self, ok: bool) -> bool:
        """Count one probe; returns True when the host changed state."""
        if ok:
            self.successes += 1
            self.failures = 0
            if not self.host.health_ok and self.successes >= self.cfg.healthy_threshold:
                self.host.health_ok = True
                return True
        else:
            self.failures += 1
            self.successes = 0
            if self.host.health_ok and self.failures >= self.cfg.unhealthy_threshold:
                self.host.health_ok = False
                return True
        return False

    @property
    def changing(self) -> bool:
        return (self.host.health_ok and self.failures > 0) or (
            not self.host.health_ok and self.successes > 0
        )

    def next_delay(self, rng: random.Random) -> float:
        base = self.cfg.fast_interval_s if self.changing else self.cfg.interval_s
        base = min(base, self.cfg.interval_s)
        return base * (1 + rng.uniform(-self.cfg.jitter, self.cfg.jitter))


AddressOf = Callable[[Host], tuple[str, int]]


def _traffic_address(host: Host) -> tuple[str, int]:
    return host.host, host.port


async def probe(host: Host, cfg: HealthCheck, address_of: AddressOf = _traffic_address) -> bool:
    """One HTTP/1.1 GET of the health path; True when the status is expected."""
    writer: asyncio.StreamWriter | None = None
    target_host, target_port = address_of(host)
    try:
        async with asyncio.timeout(cfg.timeout_s):
            reader, writer = await asyncio.open_connection(target_host, target_port)
            host_header = cfg.host_header or f"{target_host}:{target_port}"
            writer.write(
                f"GET {cfg.path} HTTP/1.1\r\nHost: {host_header}\r\n"
                "User-Agent: zonegate-health-check\r\nConnection: close\r\n\r\n".encode()
            )
            status_line = await reader.readline()
        parts = status_line.split(b" ", 2)
        return len(parts) >= 2 and parts[1].isdigit() and int(parts[1]) in cfg.expected_statuses
    except (OSError, TimeoutError, asyncio.IncompleteReadError):
        return False
    finally:
        if writer is not None:
            writer.close()


class HealthChecker:
    """Probes every host of one cluster until stopped."""

    def __init__(
        self,
        cfg: HealthCheck,
        on_result: HealthCallback,
        *,
        rng: random.Random | None = None,
        address_of: AddressOf = _traffic_address,
    ) -> None:
        self.cfg = cfg
        self.on_result = on_result
        self.rng = rng or random.Random()
        self.address_of = address_of
        self.states: dict[int, HostHealthState] = {}
        self._tasks: dict[int, asyncio.Task[None]] = {}

    def set_hosts(self, hosts: Sequence[Host]) -> None:
        """Start probing new hosts, stop probing removed ones."""
        wanted = {id(h): h for h in hosts}
        for key in list(self._tasks):
            if key not in wanted:
                self._tasks.pop(key).cancel()
                self.states.pop(key, None)
        for key, host in wanted.items():
            if key not in self._tasks:
                self._tasks[key] = asyncio.create_task(
                    self._run(host), name=f"health-check:{host.address}"
                )

    async def _run(self, host: Host) -> None:
        state = self.states[id(host)] = HostHealthState(host, self.cfg)
        # Start at a random point of the interval so hosts are not probed in lockstep.
        await asyncio.sleep(self.rng.uniform(0, min(self.cfg.interval_s, 1.0)))
        while True:
            ok = await probe(host, self.cfg, self.address_of)
            changed = state.record(ok)
            if changed:
                log.info(
                    "upstream_health_changed",
                    extra={"host": host.address, "healthy": host.health_ok},
                )
            self.on_result(host, ok, changed)
            await asyncio.sleep(state.next_delay(self.rng))

    def mark_down(self, host: Host) -> None:
        """Passive detection: take ``host`` out now; it needs ``rise`` good probes to return."""
        host.health_ok = False
        state = self.states.get(id(host))
        if state is not None:
            state.successes = 0
            state.failures = 0

    async def stop(self) -> None:
        tasks = list(self._tasks.values())
        self._tasks.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
