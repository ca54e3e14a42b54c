"""Zone router: priority load, overprovisioning, spill, panic and caching."""

from __future__ import annotations

import random
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zonegate.config.upstream import ZoneAware
from zonegate.node.upstream.host import Host
from zonegate.node.upstream.zone_aware import ZoneRouter

LOCAL = "eu-1"


class CountingRandom(random.Random):
    """Counts draws, so tests can check the hot path makes at most one."""

    draws = 0

    def random(self) -> float:
        self.draws += 1
        return super().random()


def cluster(local_down: int, remote_down: int, local: int = 4, remote: int = 4) -> list[Host]:
    hosts = [Host.parse(f"10.1.0.{i}:80", zone=LOCAL) for i in range(local)]
    hosts += [Host.parse(f"10.2.0.{i}:80", zone="eu-2") for i in range(remote)]
    for host in hosts[:local_down]:
        host.health_ok = False
    for host in hosts[local : local + remote_down]:
        host.health_ok = False
    return hosts


def local_fraction(router: ZoneRouter, hosts: Sequence[Host], picks: int = 10_000) -> float:
    local = 0
    for _ in range(picks):
        chosen = router.choose(hosts, 0.0)
        assert chosen
        zones = {h.zone for h in chosen}
        assert len(zones) == 1, "a zone-aware answer is one priority, not a mix"
        local += zones == {LOCAL}
    return local / picks


@pytest.mark.parametrize(
    ("local_down", "remote_down", "cfg", "expected_local"),
    [
        (0, 0, {}, 1.0),  # all healthy: local only
        (1, 0, {}, 1.0),  # 3/4 * 140 = 105 -> still 100% local
        (2, 0, {}, 0.70),  # 2/4 * 140 = 70
        (3, 0, {}, 0.35),  # 1/4 * 140 = 35, the rest spills
        (4, 0, {}, 0.0),  # local zone empty of healthy hosts: all remote
        (3, 0, {"overprovisioning_factor": 1.0}, 0.25),
        # both priorities short (panic disabled): 35 / (35 + 35) after normalisation
        (3, 3, {"panic_threshold": 0.0}, 0.5),
    ],
)
def test_local_share_table(
    local_down: int, remote_down: int, cfg: dict[str, float], expected_local: float
) -> None:
    rng = CountingRandom(1)
    router = ZoneRouter(LOCAL, ZoneAware.model_validate(cfg), rng)
    hosts = cluster(local_down, remote_down)
    assert local_fraction(router, hosts) == pytest.approx(expected_local, abs=0.02)
    assert router.local_share == pytest.approx(expected_local)
    assert router.spill_fraction == pytest.approx(1 - expected_local)
    assert not router.last_panic
    if expected_local in (0.0, 1.0):
        assert rng.draws == 0, "no random draw when the answer is certain"
    else:
        assert rng.draws == 10_000


def test_local_answer_is_available_local_hosts_only() -> None:
    hosts = cluster(1, 0)
    router = ZoneRouter(LOCAL, ZoneAware(), random.Random(2))
    assert set(router.choose(hosts, 0.0)) == set(hosts[1:4])


def test_panic_returns_every_host() -> None:
    hosts = cluster(4, 3)  # 1 of 8 available < 50%
    router = ZoneRouter(LOCAL, ZoneAware(), random.Random(3))
    assert set(router.choose(hosts, 0.0)) == set(hosts)
    assert router.last_panic
    assert router.spill_fraction == pytest.approx(0.5)


def test_panic_threshold_zero_and_nothing_available_is_empty() -> None:
    hosts = cluster(4, 4)
    router = ZoneRouter(LOCAL, ZoneAware(panic_threshold=0.0), random.Random(4))
    assert router.choose(hosts, 0.0) == ()
    assert not router.last_panic


@pytest.mark.parametrize("local_zone", ["", "us-9"])
def test_unknown_or_empty_local_zone_uses_all_available(local_zone: str) -> None:
    hosts = cluster(1, 1)
    router = ZoneRouter(local_zone, ZoneAware(), random.Random(5))
    assert set(router.choose(hosts, 0.0)) == {h for h in hosts if h.health_ok}
    assert router.spill_fraction == 1.0


def test_disabled_uses_all_available() -> None:
    hosts = cluster(1, 1)
    router = ZoneRouter(LOCAL, ZoneAware(enabled=False), random.Random(6))
    assert set(router.choose(hosts, 0.0)) == {h for h in hosts if h.health_ok}
    assert router.spill_fraction == pytest.approx(0.5)


def test_no_hosts() -> None:
    router = ZoneRouter(LOCAL, ZoneAware(), random.Random(7))
    assert router.choose([], 0.0) == ()


def test_ejection_expiry_is_noticed_without_invalidate() -> None:
    hosts = cluster(0, 0)
    hosts[0].ejected_until = 10.0
    router = ZoneRouter(LOCAL, ZoneAware(), random.Random(8))
    assert hosts[0] not in router.choose(hosts, 5.0)
    assert hosts[0] not in router.choose(hosts, 9.999)
    assert hosts[0] in router.choose(hosts, 10.0)


def test_cache_until_invalidate() -> None:
    hosts = cluster(0, 0)
    router = ZoneRouter(LOCAL, ZoneAware(), random.Random(9))
    first = router.choose(hosts, 0.0)
    assert router.choose(hosts, 1.0) is first  # hot path: same object, nothing rebuilt
    hosts[0].health_ok = False
    assert router.choose(hosts, 2.0) is first  # in-place change: needs invalidate()
    router.invalidate()
    assert hosts[0] not in router.choose(hosts, 3.0)


def test_new_host_list_is_noticed() -> None:
    hosts = cluster(0, 0)
    router = ZoneRouter(LOCAL, ZoneAware(), random.Random(10))
    router.choose(hosts, 0.0)
    extra = Host.parse("10.1.0.99:80", zone=LOCAL)
    assert extra in router.choose([*hosts, extra], 0.0)
    hosts.append(Host.parse("10.1.0.98:80", zone=LOCAL))  # in place, length changed
    assert hosts[-1] in router.choose(hosts, 0.0)


host_state = st.tuples(
    st.sampled_from([LOCAL, "eu-2", "eu-3", ""]),
    st.booleans(),
    st.sampled_from([0.0, 5.0, 10.0, 20.0]),
)


@settings(max_examples=300, deadline=None)
@given(
    states=st.lists(host_state, max_size=12),
    times=st.lists(st.sampled_from([0.0, 4.0, 5.0, 9.0, 10.0, 15.0, 25.0]), min_size=1, max_size=5),
    enabled=st.booleans(),
    factor=st.floats(min_value=1.0, max_value=3.0),
    panic=st.sampled_from([0.0, 0.3, 0.5, 1.0]),
    seed=st.integers(min_value=0, max_value=1000),
)
def test_never_returns_unavailable_host_unless_panic(
    states: list[tuple[str, bool, float]],
    times: list[float],
    enabled: bool,
    factor: float,
    panic: float,
    seed: int,
) -> None:
    hosts = []
    for i, (zone, healthy, ejected_until) in enumerate(states):
        host = Host.parse(f"10.0.0.{i}:80", zone=zone)
        host.health_ok, host.ejected_until = healthy, ejected_until
        hosts.append(host)
    cfg = ZoneAware(enabled=enabled, overprovisioning_factor=factor, panic_threshold=panic)
    router = ZoneRouter(LOCAL, cfg, random.Random(seed))
    for now in sorted(times):
        for _ in range(5):
            chosen = router.choose(hosts, now)
            assert set(chosen) <= set(hosts)
            if router.last_panic:
                assert set(chosen) == set(hosts)
            else:
                assert all(h.available(now) for h in chosen)
                available = [h for h in hosts if h.available(now)]
                assert bool(chosen) == bool(available)
            assert 0.0 <= router.spill_fraction <= 1.0
