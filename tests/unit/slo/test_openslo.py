"""OpenSLO v1 mapping: what maps, and a clear message for everything else."""

from __future__ import annotations

import pytest

from zonegate import conventions as cv
from zonegate.slo.errors import SpecError
from zonegate.slo.loader import parse_slo_text
from zonegate.slo.spec import AvailabilitySLI, LatencySLI

RATIO = f"""
apiVersion: openslo/v1
kind: SLO
metadata: {{name: checkout-availability}}
spec:
  service: checkout
  description: checkout works
  budgetingMethod: Occurrences
  timeWindow: [{{duration: 1M, isRolling: true}}]
  objectives: [{{displayName: good, target: 0.995}}]
  indicator:
    metadata: {{name: checkout-ok}}
    spec:
      ratioMetric:
        counter: true
        good:
          metricSource:
            type: Prometheus
            spec:
              query: >-
                sum(rate({cv.NODE_REQUESTS_TOTAL}{{route="checkout",status_class!~"5xx|4xx"}}[5m]))
        total:
          metricSource:
            type: Prometheus
            spec:
              query: sum(rate({cv.NODE_REQUESTS_TOTAL}{{route="checkout"}}[5m]))
"""

THRESHOLD_WITH_REF = f"""
- apiVersion: openslo/v1
  kind: Service
  metadata: {{name: edge}}
  spec: {{description: the edge}}
- apiVersion: openslo/v1
  kind: SLI
  metadata: {{name: edge-speed}}
  spec:
    thresholdMetric:
      metricSource:
        type: Prometheus
        spec: {{query: '{cv.GLB_REQUEST_DURATION}{{zone="eu-1"}}'}}
- apiVersion: openslo/v1
  kind: SLO
  metadata: {{name: edge-latency}}
  spec:
    service: edge
    indicatorRef: edge-speed
    timeWindow: [{{duration: 4w, isRolling: true}}]
    budgetingMethod: Occurrences
    objectives: [{{op: lte, value: 0.5, target: 0.99}}]
"""


def test_ratio_metric_maps_to_availability() -> None:
    (slo,) = parse_slo_text(RATIO).slos
    assert isinstance(slo.sli, AvailabilitySLI)
    assert slo.sli.bad_status_classes == ["4xx", "5xx"]
    assert slo.sli.route == "checkout"
    assert (slo.name, slo.service, slo.objective, slo.window) == (
        "checkout-availability",
        "checkout",
        0.995,
        "30d",
    )


def test_threshold_metric_with_indicator_ref_maps_to_latency() -> None:
    (slo,) = parse_slo_text(THRESHOLD_WITH_REF).slos
    assert isinstance(slo.sli, LatencySLI)
    assert (slo.sli.source, slo.sli.threshold, slo.sli.zone) == ("edge", 0.5, "eu-1")
    assert slo.window == "4w"


def test_histogram_ratio_maps_to_latency() -> None:
    text = RATIO.replace(
        f'{cv.NODE_REQUESTS_TOTAL}{{route="checkout",status_class!~"5xx|4xx"}}',
        f'{cv.NODE_REQUEST_DURATION}_bucket{{route="checkout",le="0.25"}}',
    ).replace(
        f'{cv.NODE_REQUESTS_TOTAL}{{route="checkout"}}',
        f'{cv.NODE_REQUEST_DURATION}_count{{route="checkout"}}',
    )
    (slo,) = parse_slo_text(text).slos
    assert isinstance(slo.sli, LatencySLI) and slo.sli.threshold == 0.25


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "budgetingMethod: Occurrences",
            "budgetingMethod: Timeslices",
            "Timeslices is not supported",
        ),
        ("isRolling: true", "isRolling: false", "calendar-aligned windows are not supported"),
        ("counter: true", "counter: false", "only counter: true"),
        ("type: Prometheus", "type: Datadog", "'Datadog' is not supported"),
        (
            "objectives: [{displayName: good, target: 0.995}]",
            "objectives: [{target: 0.9}, {target: 0.99}]",
            "needs exactly one objective",
        ),
        ("target: 0.995", "target: 0.995, timeSliceTarget: 0.9", "time slices are not supported"),
        (
            "description: checkout works",
            "description: x\n  alertPolicies: [fast-burn]",
            "alert policies are not supported",
        ),
        ('route="checkout"}[5m]', 'route="checkout",job="x"}[5m]', "label 'job' cannot scope"),
        ("target: 0.995", "target: 1.5", "mapped field objective"),
        (
            f'{cv.NODE_REQUESTS_TOTAL}{{route="checkout"}}',
            "up",
            "must read exactly one zonegate metric",
        ),
    ],
)
def test_unsupported_parts_are_rejected_clearly(old: str, new: str, message: str) -> None:
    text = RATIO.replace(old, new)
    assert text != RATIO, old
    with pytest.raises(SpecError) as info:
        parse_slo_text(text, "openslo.yaml")
    joined = "\n".join(info.value.problems)
    assert message in joined
    assert "openslo.yaml (SLO checkout-availability)" in joined


def test_unknown_indicator_ref_and_kind() -> None:
    text = THRESHOLD_WITH_REF.replace("indicatorRef: edge-speed", "indicatorRef: nope")
    text += "- {apiVersion: openslo/v1, kind: AlertPolicy, metadata: {name: p}, spec: {}}\n"
    with pytest.raises(SpecError) as info:
        parse_slo_text(text, "o.yaml")
    joined = "\n".join(info.value.problems)
    assert "no kind: SLI named 'nope' (known: edge-speed)" in joined
    assert "kind 'AlertPolicy' is not supported" in joined


def test_threshold_needs_lt() -> None:
    text = THRESHOLD_WITH_REF.replace("op: lte", "op: gt")
    with pytest.raises(SpecError, match="latency objectives use lt or lte"):
        parse_slo_text(text)


def test_other_api_versions_are_rejected() -> None:
    with pytest.raises(SpecError, match="only openslo/v1"):
        parse_slo_text(RATIO.replace("openslo/v1", "openslo/v2alpha"))
