"""Outlier detection: consecutive failures, ejection time, max ejection percent, returns."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zonegate.config.upstream import OutlierDetection
from zonegate.node.upstream.host import Host
from zonegate.node.upstream.outlier import OutlierDetector


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, str, str]] = []

    def ejected(self, host: Host, reason: str) -> None:
        self.events.append(("eject", host.address, reason))

    def returned(self, host: Host) -> None:
        self.events.append(("return", host.address, ""))


def setup(n: int = 4, **cfg: Any) -> tuple[OutlierDetector, list[Host], FakeClock, Recorder]:
    clock, recorder = FakeClock(), Recorder()
    hosts = [Host.parse(f"10.0.0.{i}:80") for i in range(n)]
    defaults: dict[str, Any] = {"base_ejection_s": 10.0, "max_ejection_s": 300.0}
    detector = OutlierDetector(
        OutlierDetection(**(defaults | cfg)), clock, recorder.ejected, recorder.returned
    )
    detector.set_hosts(hosts)
    return detector, hosts, clock, recorder


def test_consecutive_5xx_ejects() -> None:
    detector, (host, *_), clock, recorder = setup()
    for _ in range(4):
        detector.record_5xx(host)
    assert host.available(clock.now)
    detector.record_5xx(host)
    assert not host.available(clock.now)
    assert host.ejected_until == clock.now + 10.0
    assert host.ejection_count == 1
    assert recorder.events == [("eject", host.address, "consecutive_5xx")]
    assert host.consecutive_5xx == 0
    assert detector.ejections_total == 1 and detector.ejected_count() == 1


def test_success_resets_the_count() -> None:
    detector, (host, *_), clock, recorder = setup()
    for _ in range(10):
        for _ in range(4):
            detector.record_5xx(host)
        detector.record_success(host)
    assert host.available(clock.now) and not recorder.events


def test_local_failures_counted_apart() -> None:
    detector, (host, *_), clock, recorder = setup()
    detector.record_local_failure(host)
    detector.record_local_failure(host)
    detector.record_5xx(host)  # the connection worked: local streak broken
    detector.record_local_failure(host)
    detector.record_local_failure(host)
    assert host.available(clock.now)
    assert host.consecutive_5xx == 1  # a local failure does not reset the 5xx streak
    detector.record_local_failure(host)
    assert recorder.events == [("eject", host.address, "consecutive_local_failures")]


def test_ejection_time_grows_and_is_capped() -> None:
    detector, (host, *_), clock, _ = setup(base_ejection_s=10.0, max_ejection_s=25.0)
    durations = []
    for _ in range(4):
        for _ in range(3):
            detector.record_local_failure(host)
        durations.append(host.ejected_until - clock.now)
        clock.now = host.ejected_until  # back in service, fails again right away
        detector.sweep()
    assert durations == [10.0, 20.0, 25.0, 25.0]


def test_host_returns_by_itself_and_sweep_reports_it_once() -> None:
    detector, (host, *_), clock, recorder = setup()
    for _ in range(3):
        detector.record_local_failure(host)
    clock.now += 9.9
    assert detector.sweep() == [] and not host.available(clock.now)
    clock.now += 0.1
    assert host.available(clock.now)  # before any sweep
    assert detector.sweep() == [host]
    assert detector.sweep() == []
    assert recorder.events[-1] == ("return", host.address, "")
    assert detector.ejected_count() == 0


def test_failures_while_ejected_do_not_extend_the_ejection() -> None:
    detector, (host, *_), _clock, recorder = setup()
    for _ in range(3):
        detector.record_local_failure(host)
    until = host.ejected_until
    for _ in range(10):  # panic routing still sends it traffic
        detector.record_local_failure(host)
    assert host.ejected_until == until and host.ejection_count == 1
    assert len(recorder.events) == 1


def test_returning_host_counters_reset() -> None:
    detector, (host, *_), clock, _ = setup()
    for _ in range(3):
        detector.record_local_failure(host)
    detector.record_5xx(host)
    clock.now = host.ejected_until
    detector.sweep()
    assert host.consecutive_5xx == host.consecutive_local_failures == 0


def test_max_ejection_percent_blocks_further_ejections() -> None:
    detector, hosts, clock, recorder = setup(n=4, max_ejection_percent=50)
    for host in hosts:
        for _ in range(3):
            detector.record_local_failure(host)
    assert [h.available(clock.now) for h in hosts] == [False, False, True, True]
    assert detector.ejections_overflow == 2
    clock.now = hosts[0].ejected_until
    detector.record_local_failure(hosts[2])  # counters were kept: one more failure suffices
    assert not hosts[2].available(clock.now)
    assert [e[1] for e in recorder.events if e[0] == "eject"] == [
        hosts[0].address,
        hosts[1].address,
        hosts[2].address,
    ]


@pytest.mark.parametrize(
    ("percent", "n", "ejectable"), [(10, 2, 1), (0, 4, 0), (100, 3, 3), (34, 3, 2)]
)
def test_max_ejection_percent_like_envoy(percent: int, n: int, ejectable: int) -> None:
    detector, hosts, clock, _ = setup(n=n, max_ejection_percent=percent)
    for host in hosts:
        for _ in range(3):
            detector.record_local_failure(host)
    assert sum(not h.available(clock.now) for h in hosts) == ejectable


def test_ejection_count_decays_while_in_service() -> None:
    detector, (host, *_), clock, _ = setup(base_ejection_s=10.0, max_ejection_s=300.0)
    for _ in range(3):
        for _ in range(3):
            detector.record_local_failure(host)
        clock.now = host.ejected_until
        detector.sweep()
    assert host.ejection_count == 3
    clock.now += 9.0
    detector.sweep()
    assert host.ejection_count == 3
    clock.now += 1.0
    detector.sweep()
    assert host.ejection_count == 2
    clock.now += 25.0  # sweep frequency does not matter: two more periods in one call
    detector.sweep()
    assert host.ejection_count == 0
    for _ in range(3):
        detector.record_local_failure(host)
    assert host.ejected_until - clock.now == 10.0


def test_decay_counted_at_next_ejection_even_without_sweep() -> None:
    detector, (host, *_), clock, recorder = setup(base_ejection_s=10.0)
    for _ in range(3):
        detector.record_local_failure(host)
    clock.now = host.ejected_until + 15.0  # back for 15 s, never swept
    for _ in range(3):
        detector.record_local_failure(host)
    # one period forgiven: count 1 -> 0 -> 1, so the base duration again
    assert host.ejected_until - clock.now == 10.0
    assert [e[0] for e in recorder.events] == ["eject", "return", "eject"]


def test_uneject_after_active_health_check() -> None:
    detector, (host, *_), clock, recorder = setup()
    for _ in range(3):
        detector.record_local_failure(host)
    detector.uneject(host)
    assert host.available(clock.now)
    assert recorder.events[-1] == ("return", host.address, "")
    assert detector.sweep() == []


def test_set_hosts_forgets_removed_hosts() -> None:
    detector, hosts, clock, _ = setup(n=2, max_ejection_percent=50)
    for _ in range(3):
        detector.record_local_failure(hosts[0])
    detector.set_hosts([*hosts[1:], Host.parse("10.0.0.9:80")])
    assert detector.ejected_count() == 0
    for _ in range(3):
        detector.record_local_failure(hosts[1])
    assert not hosts[1].available(clock.now)


def test_callbacks_are_optional() -> None:
    clock = FakeClock()
    detector = OutlierDetector(OutlierDetection(), clock)
    host = Host.parse("h:1")
    detector.set_hosts([host])
    for _ in range(5):
        detector.record_5xx(host)
    clock.now += 1000
    assert detector.sweep() == [host]


event = st.tuples(
    st.sampled_from(["ok", "5xx", "local", "tick", "sweep"]), st.integers(min_value=0, max_value=5)
)


@settings(max_examples=200, deadline=None)
@given(
    events=st.lists(event, max_size=200),
    percent=st.integers(min_value=0, max_value=100),
    n=st.integers(min_value=1, max_value=6),
)
def test_invariants(events: list[tuple[str, int]], percent: int, n: int) -> None:
    detector, hosts, clock, recorder = setup(
        n=n, max_ejection_percent=percent, consecutive_5xx=2, consecutive_local_failures=2
    )
    for kind, index in events:
        host = hosts[index % n]
        if kind == "ok":
            detector.record_success(host)
        elif kind == "5xx":
            detector.record_5xx(host)
        elif kind == "local":
            detector.record_local_failure(host)
        elif kind == "tick":
            clock.now += index * 3.0
        else:
            detector.sweep()
        active = detector.ejected_count()
        # at most one ejection past the limit, and only when the limit is not zero
        assert active == 0 or 100 * (active - 1) < percent * n
        for h in hosts:
            assert h.ejected_until - clock.now <= 300.0
    detector.sweep()
    ejects = sum(1 for e in recorder.events if e[0] == "eject")
    returns = sum(1 for e in recorder.events if e[0] == "return")
    assert ejects - returns == detector.ejected_count()
