"""SLO spec validation: defaults, clear problems with paths, the window table as data."""

from __future__ import annotations

import json

import pytest

from zonegate import conventions as cv
from zonegate.slo.durations import format_duration, human_duration, parse_duration
from zonegate.slo.errors import SpecError
from zonegate.slo.loader import parse_slo_sources, parse_slo_text, slo_schema
from zonegate.slo.queries import event_query
from zonegate.slo.windows import default_windows

GOOD = """
version: 1
slos:
  - name: checkout-availability
    service: checkout
    objective: 0.999
    sli: {kind: availability, route: checkout, zone: eu-1}
  - name: edge-latency
    service: edge
    objective: 0.99
    window: 28d
    sli: {kind: latency, source: edge, threshold: 0.25}
    alerting:
      min_events: 50
      windows:
        - {severity: page, burn_rate: 10, long: 2h, short: 10m, for: 2m}
"""


def problems(text: str) -> list[str]:
    with pytest.raises(SpecError) as info:
        parse_slo_text(text, "slos.yaml")
    return info.value.problems


def test_defaults_are_the_workbook_table() -> None:
    slo = parse_slo_text(GOOD).slos[0]
    rows = [(w.severity, w.burn_rate, w.long, w.short) for w in slo.alerting.windows]
    assert rows == [
        ("page", 14.4, "1h", "5m"),
        ("page", 6.0, "6h", "30m"),
        ("ticket", 3.0, "1d", "2h"),
        ("ticket", 1.0, "3d", "6h"),
    ]
    assert rows == [(w.severity, w.burn_rate, w.long, w.short) for w in default_windows()]
    assert slo.window_s == 30 * 86400
    assert slo.error_budget == pytest.approx(0.001)
    assert slo.alerting.min_events == 10


def test_replaced_window_table() -> None:
    slo = parse_slo_text(GOOD).slos[1]
    (row,) = slo.alerting.windows
    assert (row.long_s, row.short_s, row.for_s) == (7200, 600, 120)


def test_models_are_frozen() -> None:
    slo = parse_slo_text(GOOD).slos[0]
    with pytest.raises(Exception, match="frozen"):
        slo.objective = 0.5  # type: ignore[misc]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            "objective: 99.9",
            "slos[0].objective: objective is a ratio, not a percentage: write 0.999",
        ),
        ("objective: 1.0", "slos[0].objective: Input should be less than 1"),
        ("objective: 0.99\n    window: 30x", "slos[0].window: invalid duration '30x'"),
        ("objective: 0.99\n    window: 30m", "window 30m is too short"),
        ("objective: 0.99\n    colour: red", "slos[0].colour: unknown field"),
        (
            "objective: 0.99\n    window: 1d\n    alerting: {}",
            "alert window 3d is longer than the SLO window 1d",
        ),
        ("objective: 0.99\n    labels: {slo_x: y}", "label name 'slo_x' is reserved"),
        (
            "objective: 0.99\n    sli: {kind: latency, threshold: 0.3}",
            "threshold 0.3s is not a bucket bound of the request duration histograms",
        ),
    ],
)
def test_bad_fields_have_paths(body: str, expected: str) -> None:
    text = f"""
version: 1
slos:
  - name: a
    service: s
    sli: {{kind: availability}}
    {body}
"""
    found = problems(text)
    assert any(expected in p for p in found), found
    assert all(p.startswith("slos.yaml: ") for p in found)


def test_bad_sli_scopes_and_windows() -> None:
    text = """
version: 1
slos:
  - name: a
    service: s
    objective: 0.99
    sli: {kind: availability, source: edge, cluster: payments}
  - name: b
    service: s
    objective: 0.99
    sli: {kind: latency, threshold: 0.25, region: eu}
  - name: c
    service: s
    objective: 0.99
    sli: {kind: availability}
    alerting: {windows: [{severity: page, burn_rate: 2, long: 5m, short: 1h}]}
  - name: d
    service: s
    objective: 0.99
    sli: {kind: freshness}
"""
    found = "\n".join(problems(text))
    assert "cluster scope is not available on edge metrics" in found
    assert "region scope needs source: edge" in found
    assert "short window 1h must be shorter than long window 5m" in found
    assert "slos[3].sli" in found and "freshness" in found


def test_duplicate_names_across_files() -> None:
    one = "version: 1\nslos: [{name: a, service: s, objective: 0.9, sli: {kind: availability}}]"
    with pytest.raises(SpecError, match="duplicate SLO name 'a'"):
        parse_slo_sources([(one, "x.yaml"), (one, "y.yaml")])


def test_cluster_config_with_slos_section() -> None:
    text = """
version: 1
cluster: prod
routes: []
slos: [{name: a, service: s, objective: 0.9, sli: {kind: availability}}]
"""
    assert [s.name for s in parse_slo_text(text).slos] == ["a"]


def test_yaml_error_has_a_position() -> None:
    (line,) = problems("version: 1\nslos: [\n")
    assert line.startswith("slos.yaml: not valid YAML at line")


def test_event_queries_use_the_conventions() -> None:
    availability, latency = parse_slo_text(GOOD).slos
    query = event_query(availability.sli)
    assert query.total.promql() == (f'{cv.NODE_REQUESTS_TOTAL}{{route="checkout",zone="eu-1"}}')
    assert query.bad is not None
    assert query.bad.promql().endswith('status_class=~"5xx"}')
    assert query.bad.matches(
        cv.NODE_REQUESTS_TOTAL,
        {"route": "checkout", "zone": "eu-1", "status_class": "5xx", "node": "n1"},
    )
    assert not query.bad.matches(
        cv.NODE_REQUESTS_TOTAL, {"route": "checkout", "zone": "eu-1", "status_class": "4xx"}
    )
    lq = event_query(latency.sli)
    assert lq.total.metric == f"{cv.GLB_REQUEST_DURATION}_count"
    assert lq.good is not None and ("le", "0.25") in lq.good.labels


def test_schema_is_json_and_names_the_alias() -> None:
    schema = slo_schema()
    text = json.dumps(schema)
    assert schema["title"] == "zonegate SLO file"
    assert '"for"' in text and "burn_rate" in text


@pytest.mark.parametrize(
    ("text", "seconds"), [("5m", 300), ("1h", 3600), ("28d", 28 * 86400), ("2w", 14 * 86400)]
)
def test_durations_round_trip(text: str, seconds: int) -> None:
    assert parse_duration(text) == seconds
    assert parse_duration(format_duration(seconds)) == seconds


def test_duration_forms() -> None:
    assert format_duration(86400 * 30) == "30d"
    assert format_duration(5400) == "90m"
    assert format_duration(45) == "45s"
    assert human_duration(5400) == "1h30m"
    assert human_duration(3 * 86400 + 3600) == "3d01h"
    with pytest.raises(ValueError, match="expected a whole number and a unit"):
        parse_duration("1.5h")
