"""The SQLite store: totals survive reopening, windows, downsampling, alert history."""

from __future__ import annotations

from pathlib import Path

import pytest

from zonegate import conventions as cv
from zonegate.slo.aggregate import SeriesKey
from zonegate.slo.alerts import AlertState, Transition
from zonegate.slo.errors import StoreError
from zonegate.slo.loader import parse_slo_text
from zonegate.slo.queries import event_query
from zonegate.slo.sources import EmbeddedSource
from zonegate.slo.store import SampleStore

SPEC = parse_slo_text(
    "version: 1\nslos: [{name: a, service: s, objective: 0.99, sli: {kind: availability}}]"
).slos[0]
OK: SeriesKey = (cv.NODE_REQUESTS_TOTAL, (("status_class", "2xx"), ("zone", "z1")))
BAD: SeriesKey = (cv.NODE_REQUESTS_TOTAL, (("status_class", "5xx"), ("zone", "z2")))


def fill(store: SampleStore, start: float, end: float, step: float) -> None:
    """10 ok and 1 bad request per second, one cycle every ``step`` seconds."""
    totals = {OK: 0.0, BAD: 0.0}
    t = start
    while t <= end:
        totals[OK] = (t - start) * 10
        totals[BAD] = (t - start) * 1
        store.write_cycle(t, totals, [OK, BAD], {"n": {"x": t}}, ["n"], {})
        t += step


def test_counts_windows_zones_and_reopen(tmp_path: Path) -> None:
    path = tmp_path / "slo.db"
    store = SampleStore(path)
    fill(store, 1000, 4600, 5)
    source = EmbeddedSource(store)
    query = event_query(SPEC.sli)
    counts = source.counts_sync(query, 4600 - 3600, 4600)
    assert (counts.bad, counts.total) == (3600, 39600)
    zones = source.zone_counts_sync(SPEC, 1000, 4600)
    assert zones["z1"].total == 36000 and zones["z1"].bad == 0
    assert zones["z2"].bad == 3600
    assert source.covered_sync(SPEC, 4600) == 3600
    store.close()

    again = SampleStore(path)
    agg = again.load_aggregator()
    assert agg.totals[OK] == 36000
    assert agg.last_raw["n"]["x"] == 4600
    assert again.last_ok() == {"n": 4600}
    assert EmbeddedSource(again).counts_sync(query, 1000, 4600).total == 39600


def test_downsampling_keeps_increases_at_its_resolution(tmp_path: Path) -> None:
    store = SampleStore(tmp_path / "slo.db")
    day = 86400.0
    fill(store, 0, 3 * day, 150)
    source = EmbeddedSource(store)
    query = event_query(SPEC.sli)
    before = store.sample_count()
    exact = source.counts_sync(query, 600, 3 * day - 600)
    removed = store.downsample(now=3 * day, retention_s=10 * day)
    assert removed > 0 and store.sample_count() == before - removed
    # 5-minute boundaries keep their exact values after thinning
    assert source.counts_sync(query, 600, 3 * day - 600) == exact
    assert store.downsample(now=3 * day, retention_s=10 * day) == 0  # idempotent
    store.downsample(now=3 * day, retention_s=day)  # retention drops the first two days
    assert source.covered_sync(SPEC, 3 * day) <= day + 300


def test_alert_history_and_last_states(tmp_path: Path) -> None:
    store = SampleStore(tmp_path / "slo.db")
    events = [
        Transition("a", "page", AlertState.INACTIVE, AlertState.FIRING, 10.0, 10.0, 20.0, ("x",)),
        Transition("a", "page", AlertState.FIRING, AlertState.RESOLVED, 20.0, 10.0, 1.0, ()),
        Transition("b", "ticket", AlertState.INACTIVE, AlertState.PENDING, 15.0, None, 2.0, ()),
    ]
    store.record_transitions(events)
    assert store.alert_history() == sorted(events, key=lambda e: e.at)
    assert store.alert_history("a", since=15) == [events[1]]
    assert sorted(store.last_transitions(), key=lambda e: e.slo) == [events[1], events[2]]


def test_unwritable_path_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StoreError, match="cannot open SLO store"):
        SampleStore(blocker / "slo.db")
