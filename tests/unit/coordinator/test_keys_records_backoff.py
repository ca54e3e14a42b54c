"""Pure parts of the coordinator: key layout, records, backoff, lease timing."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from zonegate.coordinator.backoff import Backoff
from zonegate.coordinator.keys import Keys, segment
from zonegate.coordinator.lease import renew_interval
from zonegate.coordinator.records import NodeInfo, ServiceEndpoint


def test_layout() -> None:
    keys = Keys("prod")
    assert keys.config == "/zonegate/prod/config"
    assert keys.config_history(7) == "/zonegate/prod/config-history/000000000007"
    assert keys.node("eu-1", "n1") == "/zonegate/prod/nodes/eu-1/n1"
    assert keys.service("api", "eu-1", "i1") == "/zonegate/prod/services/api/eu-1/i1"
    assert keys.leader_candidate(0xAB) == "/zonegate/prod/leader/00000000000000ab"
    assert (
        keys.ratelimit("per-consumer", 1700, "n1")
        == "/zonegate/prod/ratelimit/per-consumer/1700/n1"
    )
    assert keys.event(5) == "/zonegate/prod/events/000000000000005"
    assert keys.summary == "/zonegate/prod/summary"
    assert keys.relative(keys.node("z", "n"), keys.nodes_prefix) == ["z", "n"]
    assert keys.relative("/elsewhere", keys.nodes_prefix) == []


def test_history_keys_sort_by_version() -> None:
    keys = Keys()
    assert sorted([keys.config_history(10), keys.config_history(9)])[0] == keys.config_history(9)


@pytest.mark.parametrize("bad", ["", "a/b", "white space", "x" * 129])
def test_bad_segments_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="invalid"):
        segment(bad)
    with pytest.raises(ValueError):
        Keys(bad)


def test_records_round_trip_and_refuse_garbage() -> None:
    info = NodeInfo("n1", "z1", "127.0.0.1:8080", "127.0.0.1:9901", "0.1", 1.5, 42, "draining")
    assert NodeInfo.from_json(info.to_json()) == info
    endpoint = ServiceEndpoint("api", "z1", "i1", "10.0.0.1:80", {"v": "2"})
    assert ServiceEndpoint.from_json(endpoint.to_json()) == endpoint
    for garbage in (b"[]", b'{"zone": "z"}', b'{"service":"a","zone":"z","instance_id":"i",'
                    b'"address":"x","metadata":[1]}'):  # fmt: skip
        with pytest.raises(ValueError):
            NodeInfo.from_json(garbage)
        with pytest.raises(ValueError):
            ServiceEndpoint.from_json(garbage)


def test_backoff_grows_caps_and_resets() -> None:
    backoff = Backoff(0.1, 1.0, jitter=0.0)
    assert [round(backoff.next(), 3) for _ in range(6)] == [0.1, 0.2, 0.4, 0.8, 1.0, 1.0]
    backoff.reset()
    assert backoff.next() == pytest.approx(0.1)
    with pytest.raises(ValueError):
        Backoff(0, 1)


@given(st.floats(0, 1), st.integers(1, 20))
def test_backoff_jitter_stays_in_band(r: float, steps: int) -> None:
    backoff = Backoff(0.1, 2.0, jitter=0.2, rand=lambda: r)
    for _ in range(steps):
        delay = backoff.next()
        assert 0.08 - 1e-9 <= delay <= 2.4 + 1e-9


def test_lease_is_renewed_three_times_per_ttl() -> None:
    assert renew_interval(3) == pytest.approx(1.0)
    assert renew_interval(0.01) == 0.05
