"""The toxics' arithmetic: slicer cuts, bandwidth pacing, latency jitter, data limits."""

from __future__ import annotations

import itertools
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from zonegate.chaos.faultproxy.toxicmath import (
    BandwidthPacer,
    LimitCounter,
    latency_delay_s,
    slice_offsets,
)


@given(
    latency=st.integers(0, 10_000),
    jitter=st.integers(0, 10_000),
    seed=st.integers(0, 2**32),
)
def test_latency_stays_within_jitter_and_never_negative(
    latency: int, jitter: int, seed: int
) -> None:
    delay = latency_delay_s(latency, jitter, random.Random(seed).randrange)
    assert delay >= 0
    assert max(0, latency - jitter) / 1000 <= delay <= (latency + jitter) / 1000


def test_latency_without_jitter_is_exact() -> None:
    assert latency_delay_s(250, 0, lambda n: pytest.fail("no randomness needed")) == 0.25


def test_latency_jitter_uses_toxiproxys_formula() -> None:
    # delay = latency + Int63n(2 * jitter) - jitter
    assert latency_delay_s(100, 10, lambda n: 0) == 0.090
    assert latency_delay_s(100, 10, lambda n: n - 1) == 0.109


@given(
    size=st.integers(0, 20_000),
    average=st.integers(1, 500),
    variation_fraction=st.floats(0, 0.99),
    seed=st.integers(0, 2**32),
)
def test_slices_cover_the_data_in_order(
    size: int, average: int, variation_fraction: float, seed: int
) -> None:
    variation = int(average * variation_fraction)
    slices = slice_offsets(size, average, variation, random.Random(seed).randrange)
    assert slices[0][0] == 0
    assert slices[-1][1] == size
    for (_, end), (start, _) in itertools.pairwise(slices):
        assert end == start
    for start, end in slices:
        # each slice is at most average + variation (whole spans under that are kept)
        assert end - start <= average + variation
        if len(slices) > 1:
            assert end > start


def test_slices_are_about_the_average_size() -> None:
    slices = slice_offsets(10_000, 100, 0, random.Random(1).randrange)
    sizes = [end - start for start, end in slices]
    assert all(50 <= s <= 100 for s in sizes)
    assert 100 <= len(slices) <= 200


def test_slice_offsets_rejects_bad_parameters() -> None:
    with pytest.raises(ValueError, match="average_size"):
        slice_offsets(10, 0, 0, random.Random(1).randrange)
    with pytest.raises(ValueError, match="size_variation"):
        slice_offsets(10, 5, 5, random.Random(1).randrange)


@given(rate=st.integers(1, 100_000), size=st.integers(1, 5_000_000))
def test_bandwidth_total_time_matches_rate(rate: int, size: int) -> None:
    pacer = BandwidthPacer(rate)
    pieces = pacer.schedule(size, now=10.0)
    assert pieces is not None
    assert pieces[-1][0] == size
    assert pieces[-1][1] == pytest.approx(10.0 + size / (rate * 1000))
    # big chunks leave in slices of at most 100 ms worth of bytes
    previous = 0
    for end, _ in pieces:
        assert end - previous <= max(1, rate * 100)
        previous = end


def test_bandwidth_queues_back_to_back_chunks_and_earns_no_idle_credit() -> None:
    pacer = BandwidthPacer(10)  # 10 KB/s = 10 bytes/ms
    first = pacer.schedule(1000, now=0.0)
    second = pacer.schedule(1000, now=0.0)
    assert first is not None and second is not None
    assert first[-1][1] == pytest.approx(0.1)
    assert second[-1][1] == pytest.approx(0.2)  # waits for the first
    later = pacer.schedule(1000, now=5.0)  # idle for ~5 s: no burst allowance
    assert later is not None and later[-1][1] == pytest.approx(5.1)


def test_bandwidth_rate_zero_lets_nothing_through() -> None:
    assert BandwidthPacer(0).schedule(10, now=0.0) is None


def test_limit_counter_cuts_at_exactly_the_limit() -> None:
    counter = LimitCounter(10)
    assert counter.admit(4) == 4
    assert not counter.exhausted
    assert counter.admit(10) == 6
    assert counter.exhausted
    assert counter.admit(3) == 0
    assert counter.sent == 10
    assert LimitCounter(0).exhausted
