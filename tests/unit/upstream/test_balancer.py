"""Load balancers: weights, exclusion, consistent hashing, least request."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zonegate.config.upstream import LoadBalancer
from zonegate.node.upstream import balancer as lb
from zonegate.node.upstream.balancer import (
    Balancer,
    LeastRequest,
    RandomBalancer,
    RingHash,
    RoundRobin,
    make_balancer,
    smooth_schedule,
)
from zonegate.node.upstream.host import Host


def make_hosts(weights: Sequence[int]) -> tuple[Host, ...]:
    return tuple(Host.parse(f"10.0.0.{i + 1}:80", weight=w) for i, w in enumerate(weights))


def shares(balancer: Balancer, hosts: Sequence[Host], picks: int) -> list[float]:
    counts = Counter(balancer.pick(hosts, None) for _ in range(picks))
    return [counts[h] / picks for h in hosts]


ALL_KINDS = [RoundRobin, RandomBalancer, LeastRequest, RingHash]


# --- common behaviour --------------------------------------------------------------------


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_empty_and_single(kind: type[RoundRobin]) -> None:
    balancer = kind(random.Random(1))
    assert balancer.pick((), b"k") is None
    (only,) = make_hosts([3])
    assert balancer.pick((only,), b"k") is only
    assert balancer.pick([only], None, exclude={only}) is only


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_exclusion_avoids_excluded_hosts(kind: type[RoundRobin]) -> None:
    balancer = kind(random.Random(2))
    hosts = make_hosts([1, 2, 3, 4])
    excluded = {hosts[0], hosts[3]}
    for i in range(300):
        picked = balancer.pick(hosts, str(i).encode(), excluded)
        assert picked in (hosts[1], hosts[2])


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_everything_excluded_picks_from_all(kind: type[RoundRobin]) -> None:
    balancer = kind(random.Random(3))
    hosts = make_hosts([1, 1, 1])
    picked = {balancer.pick(hosts, str(i).encode(), set(hosts)) for i in range(100)}
    assert picked <= set(hosts) and None not in picked


@pytest.mark.parametrize("kind", [RoundRobin, RandomBalancer, LeastRequest, RingHash])
def test_weights_respected(kind: type[RoundRobin]) -> None:
    hosts = make_hosts([1, 2, 3, 4])
    got = shares(kind(random.Random(4)), hosts, 20_000)
    for share, weight in zip(got, [1, 2, 3, 4], strict=True):
        assert share == pytest.approx(weight / 10, abs=0.02)


@pytest.mark.parametrize(
    ("policy", "kind"),
    [
        ("round_robin", RoundRobin),
        ("least_request", LeastRequest),
        ("random", RandomBalancer),
        ("ring_hash", RingHash),
    ],
)
def test_make_balancer(policy: str, kind: type) -> None:
    cfg = LoadBalancer.model_validate({"policy": policy, "hash_header": "x-user"})
    assert isinstance(make_balancer(cfg, random.Random()), kind)


# --- round robin ---------------------------------------------------------------------------


def test_round_robin_is_exact_over_whole_cycles() -> None:
    hosts = make_hosts([1, 2, 3, 4])
    balancer = RoundRobin(random.Random(5))
    counts = Counter(balancer.pick(hosts, None) for _ in range(10 * 100))
    assert [counts[h] for h in hosts] == [100, 200, 300, 400]


def test_round_robin_interleaves() -> None:
    hosts = make_hosts([5, 1, 1])
    balancer = RoundRobin(random.Random(6))
    names = {host: name for host, name in zip(hosts, "abc", strict=True)}
    sequence = "".join(names[balancer.pick(hosts, None)] for _ in range(70))  # type: ignore[index]
    assert "aaaa" not in sequence
    assert "bc" not in sequence and "cb" not in sequence


def test_round_robin_start_is_randomised() -> None:
    hosts = make_hosts([1] * 8)
    firsts = {RoundRobin(random.Random(seed)).pick(hosts, None) for seed in range(40)}
    assert len(firsts) > 4


def test_round_robin_exclusion_keeps_rotation_fair() -> None:
    hosts = make_hosts([1, 1, 1, 1])
    balancer = RoundRobin(random.Random(7))
    counts = Counter(balancer.pick(hosts, None, {hosts[0]}) for _ in range(300))
    assert hosts[0] not in counts
    assert sorted(counts.values()) == [100, 100, 100]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=50), min_size=1, max_size=10))
def test_smooth_schedule_counts_and_gaps(weights: list[int]) -> None:
    order = smooth_schedule(weights)
    total = len(order)
    counts = Counter(order)
    unit = sum(weights) // total
    assert all(counts[i] * unit == w for i, w in enumerate(weights))
    for index, count in counts.items():
        positions = [p for p, i in enumerate(order) if i == index]
        gaps = [(positions[(k + 1) % count] - positions[k]) % total or total for k in range(count)]
        assert max(gaps) <= total / count + len(weights)


def test_smooth_schedule_scales_huge_weights() -> None:
    order = smooth_schedule([1000, 999, 1])
    assert len(order) <= lb.MAX_SCHEDULE + 3
    counts = Counter(order)
    assert counts[0] / len(order) == pytest.approx(0.5, abs=0.01)
    assert counts[2] >= 1


# --- least request -------------------------------------------------------------------------


def test_least_request_prefers_less_loaded() -> None:
    hosts = make_hosts([1, 1, 1, 1])
    hosts[0].active_requests = 50
    got = shares(LeastRequest(random.Random(8)), hosts, 16_000)
    # the busy host only wins when both draws land on it: (1/4)^2
    assert got[0] == pytest.approx(1 / 16, abs=0.015)


def test_least_request_load_is_relative_to_weight() -> None:
    light, heavy = make_hosts([1, 10])
    light.active_requests = 10  # 10 per unit of weight
    heavy.active_requests = 50  # 5 per unit of weight
    balancer = LeastRequest(random.Random(9))
    picks = Counter(balancer.pick((light, heavy), None) for _ in range(2000))
    # light only when both weighted draws are light: (1/11)^2
    assert picks[light] / 2000 < 0.03


def test_least_request_balances_better_than_random() -> None:
    def max_load(balancer: Balancer) -> int:
        hosts = make_hosts([1] * 10)
        rng = random.Random(10)
        in_flight: list[Host] = []
        peak = 0
        for _ in range(5000):
            host = balancer.pick(hosts, None)
            assert host is not None
            host.active_requests += 1
            in_flight.append(host)
            if len(in_flight) > 50:  # requests finish in random order
                done = in_flight.pop(rng.randrange(len(in_flight)))
                done.active_requests -= 1
            peak = max(peak, *(h.active_requests for h in hosts))
        return peak

    assert max_load(LeastRequest(random.Random(11))) < max_load(RandomBalancer(random.Random(11)))


# --- ring hash -----------------------------------------------------------------------------


def test_ring_hash_is_stable_across_nodes_and_host_objects() -> None:
    one = RingHash(random.Random(12))
    other = RingHash(random.Random(13))
    hosts_a = make_hosts([1, 2, 1, 3])
    hosts_b = make_hosts([1, 2, 1, 3])  # new objects, same addresses (another node)
    for i in range(500):
        key = f"user-{i}".encode()
        a, b = one.pick(hosts_a, key), other.pick(hosts_b, key)
        assert a is not None and b is not None and a.address == b.address
        assert one.pick(hosts_a, key) is a


def test_ring_hash_exclusion_walks_to_the_same_next_host() -> None:
    balancer = RingHash(random.Random(14))
    hosts = make_hosts([1, 1, 1, 1, 1])
    for i in range(200):
        key = f"k{i}".encode()
        first = balancer.pick(hosts, key)
        assert first is not None
        retry = balancer.pick(hosts, key, {first})
        assert retry is not first
        assert balancer.pick(hosts, key, {first}) is retry


def test_ring_rebuilt_only_when_the_host_set_changes(monkeypatch: pytest.MonkeyPatch) -> None:
    balancer = RingHash(random.Random(15))
    builds: list[int] = []
    original = balancer._build

    def counting_build(hosts: tuple[Host, ...]) -> object:
        builds.append(len(hosts))
        return original(hosts)

    monkeypatch.setattr(balancer._sets, "_build", counting_build)
    hosts = make_hosts([1, 1, 1])
    for i in range(50):
        balancer.pick(hosts, str(i).encode())
    balancer.pick(tuple(hosts), b"x")  # equal content, new tuple
    balancer.pick(list(hosts), b"x")  # a list of the same hosts
    assert builds == [3]
    balancer.pick(hosts[:2], b"x")
    assert builds == [3, 2]
    balancer.pick(hosts, b"x")  # both sets stay cached (local and remote zone alternate)
    assert builds == [3, 2]


def test_ring_size_is_capped() -> None:
    balancer = RingHash(random.Random(16))
    hosts = make_hosts([1000] * 3)
    balancer.pick(hosts, b"x")
    ring = balancer._sets.get(hosts)
    assert len(ring.hashes) <= lb.MAX_RING


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(min_value=3, max_value=12),
    removed_index=st.integers(min_value=0, max_value=11),
    seed=st.integers(min_value=0, max_value=2**32),
)
def test_ring_removing_one_host_remaps_about_one_nth(n: int, removed_index: int, seed: int) -> None:
    hosts = make_hosts([1] * n)
    removed = hosts[removed_index % n]
    remaining = tuple(h for h in hosts if h is not removed)
    balancer = RingHash(random.Random(seed))
    rng = random.Random(seed)
    keys = [rng.randbytes(12) for _ in range(1500)]
    moved = 0
    for key in keys:
        before = balancer.pick(hosts, key)
        after = balancer.pick(remaining, key)
        if before is removed:
            moved += 1
        else:
            assert after is before  # keys of surviving hosts never move
    assert moved / len(keys) < 1 / n + 0.1
