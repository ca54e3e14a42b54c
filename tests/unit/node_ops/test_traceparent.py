"""W3C traceparent parsing/formatting and the ratio sampler."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from opentelemetry.sdk.trace.sampling import Decision, TraceIdRatioBased

from zonegate.node.ops.traceparent import (
    TraceParent,
    format_traceparent,
    parse_traceparent,
    ratio_bound,
    sampled_by_ratio,
)

VALID = b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (VALID, TraceParent(0x4BF92F3577B34DA6A3CE929D0E0E4736, 0x00F067AA0BA902B7, 1)),
        (VALID[:-2] + b"00", TraceParent(0x4BF92F3577B34DA6A3CE929D0E0E4736, 0xF067AA0BA902B7, 0)),
        (b" " + VALID + b" ", TraceParent(0x4BF92F3577B34DA6A3CE929D0E0E4736, 0xF067AA0BA902B7, 1)),
        # a future version may append fields
        (
            b"cc" + VALID[2:] + b"-what-ever",
            TraceParent(0x4BF92F3577B34DA6A3CE929D0E0E4736, 0xF067AA0BA902B7, 1),
        ),
        (b"ff" + VALID[2:], None),  # forbidden version
        (VALID + b"-extra", None),  # version 00 has exactly four fields
        (VALID.upper(), None),  # lower-case hex only
        (b"00-00000000000000000000000000000000-00f067aa0ba902b7-01", None),
        (b"00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", None),
        (b"00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01", None),
        (b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7", None),
        (b"00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01", None),
        (b"", None),
        (b"garbage", None),
    ],
)
def test_parse(value: bytes, expected: TraceParent | None) -> None:
    assert parse_traceparent(value) == expected


@given(st.integers(1, (1 << 128) - 1), st.integers(1, (1 << 64) - 1), st.booleans())
def test_format_then_parse_round_trips(trace_id: int, span_id: int, sampled: bool) -> None:
    header = format_traceparent(trace_id, span_id, sampled)
    assert len(header) == 55
    parsed = parse_traceparent(header)
    assert parsed == TraceParent(trace_id, span_id, 1 if sampled else 0)
    assert parsed is not None and parsed.sampled is sampled


@given(st.integers(1, (1 << 128) - 1), st.sampled_from([0.0, 0.001, 0.01, 0.25, 0.5, 0.99, 1.0]))
def test_ratio_decision_matches_opentelemetry(trace_id: int, ratio: float) -> None:
    otel = TraceIdRatioBased(ratio).should_sample(None, trace_id, "span")
    expected = otel.decision is Decision.RECORD_AND_SAMPLE
    assert sampled_by_ratio(trace_id, ratio_bound(ratio)) is expected


def test_ratio_bounds() -> None:
    assert not sampled_by_ratio((1 << 128) - 1, ratio_bound(0.999999))
    assert sampled_by_ratio(1, ratio_bound(0.000001))
    assert not sampled_by_ratio(0, ratio_bound(0.0))
    with pytest.raises(ValueError, match="within"):
        ratio_bound(1.5)
