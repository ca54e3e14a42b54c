"""Lock-free cells render exactly as prometheus-client's own metrics would."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.registry import Collector

from zonegate import conventions as cv
from zonegate.node.ops.cells import CounterFamily, HistogramFamily

values = st.lists(
    st.one_of(
        st.sampled_from(list(cv.DURATION_BUCKETS)),  # exactly on a bound: counts in it (le)
        st.floats(0, 20, allow_nan=False),
    ),
    max_size=40,
)


class _Families(Collector):
    def __init__(self, *families: CounterFamily | HistogramFamily) -> None:
        self.families = families

    def collect(self):
        return [f.family() for f in self.families]


def _without_created(text: bytes) -> list[str]:
    return [line for line in text.decode().splitlines() if "_created" not in line]


@given(values)
def test_histogram_cells_match_prometheus_client(observations: list[float]) -> None:
    reference = CollectorRegistry()
    hist = Histogram("t_seconds", "doc", ["route"], buckets=cv.DURATION_BUCKETS, registry=reference)
    family = HistogramFamily("t_seconds", "doc", ["route"], cv.DURATION_BUCKETS)
    cell = family.cell("r1")
    child = hist.labels("r1")
    for value in observations:
        child.observe(value)
        cell.observe(value)
    ours = CollectorRegistry()
    ours.register(_Families(family))
    assert _without_created(generate_latest(ours)) == _without_created(generate_latest(reference))
    assert cell.count == len(observations)


def test_counter_cells_render_as_counters_and_gauges() -> None:
    counter = CounterFamily("zonegate_things_total", "Things.", ["kind"])
    gauge = CounterFamily("zonegate_level", "Level.", ["kind"], gauge=True)
    counter.cell("a").value += 2
    assert counter.cell("a") is counter.cell("a")
    gauge.cell("b").value = 7
    registry = CollectorRegistry()
    registry.register(_Families(counter, gauge))
    text = generate_latest(registry).decode()
    assert "# TYPE zonegate_things_total counter" in text
    assert 'zonegate_things_total{kind="a"} 2.0' in text
    assert "# TYPE zonegate_level gauge" in text
    assert 'zonegate_level{kind="b"} 7.0' in text


def test_wrong_label_count_is_refused() -> None:
    family = CounterFamily("x_total", "X.", ["a", "b"])
    try:
        family.cell("only-one")
    except ValueError as exc:
        assert "takes labels" in str(exc)
    else:
        raise AssertionError("accepted a wrong label count")
