"""Guards on the growing request log, with a fake clock; the request log reader."""

from __future__ import annotations

import json
from typing import Any

import pytest

from zonegate.chaos.guards import GuardBook, read_guard
from zonegate.chaos.records import LogFollower, RequestRecord, read_records
from zonegate.chaos.spec.experiment import Experiment


def objectives(slo: str, override: float | None) -> tuple[float, float]:
    return (override if override is not None else 0.999), 30 * 86400.0


def guards(*items: dict[str, object]) -> list[Any]:
    experiment = Experiment.model_validate(
        {"title": "t", "method": [{"action": {"kind": "wait", "seconds": 1}}], "guards": items}
    )
    return experiment.guards


def log(start: float, seconds: float, rps: int, failed_share: float = 0.0, ms: float = 5.0):
    out = []
    n = int(seconds * rps)
    bad = int(n * failed_share)
    for i in range(n):
        out.append(RequestRecord(start + i / rps, ms, 0 if i < bad else 200, "a"))
    return out


def test_error_rate_guard_trips_after_for_s() -> None:
    book = GuardBook(
        guards({"kind": "error_rate", "max": 0.2, "window_s": 2, "for_s": 1}), objectives
    )
    records = log(100.0, 2.0, 50) + log(102.0, 2.0, 50, failed_share=0.5)
    assert book.check(records, 102.0, 100.0) is None  # clean window
    assert book.check(records, 103.0, 100.0) is None  # above the bound, but not yet for 1 s
    assert book.last[0].value == pytest.approx(0.5)
    trip = book.check(records, 104.0, 100.0)
    assert trip is not None
    assert trip.kind == "error_rate" and trip.index == 0
    assert trip.value == pytest.approx(0.5)
    assert "error rate over 2s 0.5 > 0.2 for 1s" in trip.message


def test_a_dip_below_the_bound_restarts_for_s() -> None:
    book = GuardBook(
        guards({"kind": "error_rate", "max": 0.2, "window_s": 1, "for_s": 1}), objectives
    )
    bad = log(100.0, 1.0, 50, failed_share=1.0)
    good = log(101.0, 1.0, 50)
    worse = log(102.0, 2.0, 50, failed_share=1.0)
    records = bad + good + worse
    assert book.check(records, 101.0, 100.0) is None  # above since 101
    assert book.check(records, 102.0, 100.0) is None  # clean second: reset
    assert book.check(records, 103.0, 100.0) is None  # above since 103
    assert book.check(records, 104.0, 100.0) is not None


def test_too_few_requests_never_trip() -> None:
    book = GuardBook(guards({"kind": "error_rate", "max": 0.1, "min_requests": 20}), objectives)
    records = log(100.0, 1.0, 10, failed_share=1.0)
    assert book.check(records, 101.0, 100.0) is None
    assert book.last[0].value is None


def test_budget_guard_is_the_share_of_the_window_budget() -> None:
    (guard,) = guards({"kind": "error_budget", "max_consumed": 0.01})
    records = log(100.0, 10.0, 100, failed_share=0.1)  # 100 bad of 1000 in 10 s
    reading = read_guard(guard, records, 110.0, 100.0, objectives)
    # allowed over 30 days at 100 req/s: 0.001 * 100 * 2592000 = 259200 bad requests
    assert reading.value == pytest.approx(100 / 259200)
    assert reading.bound == 0.01


def test_burn_rate_and_latency_guards() -> None:
    burn, latency = guards(
        {"kind": "burn_rate", "max": 10, "window_s": 5, "objective": 0.99},
        {"kind": "latency", "max_ms": 100, "window_s": 5},
    )
    records = log(100.0, 5.0, 20, failed_share=0.05, ms=150.0)
    assert read_guard(burn, records, 105.0, 100.0, objectives).value == pytest.approx(5.0)
    assert read_guard(latency, records, 105.0, 100.0, objectives).value == 150.0
    book = GuardBook([burn, latency], objectives)
    trip = book.check(records, 105.0, 100.0)
    assert trip is not None and trip.kind == "latency"


def test_slo_api_guards_use_the_value_given() -> None:
    (guard,) = guards({"kind": "burn_rate", "max": 2, "source": "slo_api"})
    book = GuardBook([guard], objectives)
    assert book.check([], 10.0, 0.0, {0: None}) is None
    trip = book.check([], 10.0, 0.0, {0: 14.4})
    assert trip is not None and trip.value == 14.4


def test_follower_reads_only_complete_lines(tmp_path) -> None:
    path = tmp_path / "requests.jsonl"
    follower = LogFollower(path)
    assert follower.poll() == []
    line = json.dumps({"t": 1.5, "ms": 2.0, "s": 200, "z": "a", "n": "a-1", "r": "x"})
    with path.open("w") as handle:
        handle.write(line + "\n" + line[:10])
    first = follower.poll()
    assert first == [RequestRecord(1.5, 2.0, 200, "a", "a-1", "x")]
    with path.open("a") as handle:
        handle.write(line[10:] + "\nnot json\n\n")
    assert follower.poll() == first
    assert follower.poll() == []
    assert read_records(path) == first * 2


def test_record_json_round_trip() -> None:
    record = RequestRecord(12.25, 3.5, 0, error="ConnectionRefusedError")
    assert record.failed
    assert RequestRecord.from_json(record.to_json()) == record
    assert not RequestRecord(1.0, 1.0, 404).failed
    assert RequestRecord(1.0, 1.0, 502).failed
