"""Parsing the text format (only wanted series) and folding targets into running totals."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from zonegate import conventions as cv
from zonegate.slo.aggregate import CounterAggregator
from zonegate.slo.exposition import Wanted, parse_exposition, wanted_for
from zonegate.slo.loader import parse_slo_text

SPECS = parse_slo_text(
    """
version: 1
slos:
  - {name: a, service: s, objective: 0.99, sli: {kind: availability}}
  - {name: l, service: s, objective: 0.99, sli: {kind: latency, threshold: 0.25}}
"""
).slos


def node_registry() -> tuple[CollectorRegistry, Counter, Histogram]:
    registry = CollectorRegistry()
    requests = Counter(
        cv.NODE_REQUESTS_TOTAL.removesuffix("_total"),
        "requests",
        [cv.LABEL_ROUTE, cv.LABEL_CLUSTER, cv.LABEL_ZONE, cv.LABEL_NODE, cv.LABEL_STATUS_CLASS],
        registry=registry,
    )
    duration = Histogram(
        cv.NODE_REQUEST_DURATION,
        "duration",
        [cv.LABEL_ROUTE, cv.LABEL_CLUSTER, cv.LABEL_ZONE],
        registry=registry,
    )
    Counter("unrelated_total", "noise", registry=registry).inc(5)
    return registry, requests, duration


def test_parse_keeps_only_wanted_series_and_created() -> None:
    registry, requests, duration = node_registry()
    requests.labels('r"1', "c", "z1", "n1", "2xx").inc(7)
    duration.labels("r", "c", "z1").observe(0.1)
    duration.labels("r", "c", "z1").observe(0.4)
    samples, created = parse_exposition(generate_latest(registry).decode(), wanted_for(SPECS))
    by_name = {(s.metric, dict(s.labels).get("le")): s for s in samples}
    assert by_name[(cv.NODE_REQUESTS_TOTAL, None)].value == 7
    assert dict(by_name[(cv.NODE_REQUESTS_TOTAL, None)].labels)[cv.LABEL_ROUTE] == 'r"1'
    assert by_name[(f"{cv.NODE_REQUEST_DURATION}_bucket", "0.25")].value == 1
    assert by_name[(f"{cv.NODE_REQUEST_DURATION}_count", None)].value == 2
    assert {s.metric for s in samples} == {
        cv.NODE_REQUESTS_TOTAL,
        f"{cv.NODE_REQUEST_DURATION}_bucket",
        f"{cv.NODE_REQUEST_DURATION}_count",
    }
    assert any(name == "zonegate_http_requests_created" for name, _ in created)


def test_parse_tolerates_odd_lines() -> None:
    wanted = Wanted(names={"x_total"})
    text = 'x_total 3\nx_total{a="1"} NaN\nx_total{a="2"} +Inf 1700000000\n\n# HELP x\nbroken\n'
    samples, _ = parse_exposition(text, wanted)
    assert [(s.labels, s.value) for s in samples] == [((), 3.0), ((("a", "2"),), float("inf"))]


def test_aggregator_handles_restarts_new_nodes_and_departures() -> None:
    wanted = Wanted(names={cv.NODE_REQUESTS_TOTAL})
    agg = CounterAggregator()

    def scrape(target: str, node: str, value: float, prev: float | None) -> set[object]:
        text = f'{cv.NODE_REQUESTS_TOTAL}{{zone="z",node="{node}",status_class="2xx"}} {value}\n'
        samples, created = parse_exposition(text, wanted)
        changed, _ = agg.ingest(target, samples, created, prev, wanted)
        return set(changed)

    key = (cv.NODE_REQUESTS_TOTAL, (("status_class", "2xx"), ("zone", "z")))
    scrape("n1", "n1", 1000, None)  # first sight: baseline
    assert agg.totals[key] == 0
    scrape("n1", "n1", 1100, 1.0)
    assert agg.totals[key] == 100
    scrape("n2", "n2", 30, None)  # another node, first sight: baseline
    scrape("n2", "n2", 50, 2.0)
    assert agg.totals[key] == 120
    scrape("n1", "n1", 10, 3.0)  # n1 restarted: its 10 new requests count
    assert agg.totals[key] == 130
    assert scrape("n1", "n1", 10, 4.0) == set()  # nothing changed, nothing to write
    # n2 went away: what it counted stays


def test_new_series_on_a_known_target_counts_from_zero() -> None:
    wanted = Wanted(names={cv.NODE_REQUESTS_TOTAL})
    agg = CounterAggregator()
    ok = f'{cv.NODE_REQUESTS_TOTAL}{{zone="z",status_class="2xx"}} 10\n'
    bad = f'{cv.NODE_REQUESTS_TOTAL}{{zone="z",status_class="5xx"}} 3\n'
    agg.ingest("t", *parse_exposition(ok, wanted), None, wanted)
    agg.ingest("t", *parse_exposition(ok + bad, wanted), 1.0, wanted)
    assert agg.totals[(cv.NODE_REQUESTS_TOTAL, (("status_class", "5xx"), ("zone", "z")))] == 3


def test_created_timestamp_decides_for_unknown_targets() -> None:
    wanted = Wanted(names={cv.NODE_REQUESTS_TOTAL})
    base = f'{cv.NODE_REQUESTS_TOTAL}{{zone="z"}} 40\n'
    born_late = base + 'zonegate_http_requests_created{zone="z"} 200\n'
    born_early = base + 'zonegate_http_requests_created{zone="z"} 50\n'
    late, early = CounterAggregator(), CounterAggregator()
    late.ingest("t", *parse_exposition(born_late, wanted), 100.0, wanted)
    early.ingest("t", *parse_exposition(born_early, wanted), 100.0, wanted)
    key = (cv.NODE_REQUESTS_TOTAL, (("zone", "z"),))
    assert late.totals[key] == 40 and early.totals[key] == 0
