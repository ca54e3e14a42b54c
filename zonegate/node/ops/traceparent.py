"""W3C Trace Context ``traceparent``: parse, format, and the ratio sampling decision.

``00-<trace-id: 32 hex>-<parent-id: 16 hex>-<flags: 2 hex>``, lower-case hex,
ids not all zero, version ``ff`` invalid; a higher version may append fields
after a dash (https://www.w3.org/TR/trace-context/#traceparent-header).
"""

from __future__ import annotations

import re
from typing import Final, NamedTuple

_TRACEPARENT: Final = re.compile(
    rb"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?"
)
SAMPLED: Final = 0x01
_LOW_64: Final = (1 << 64) - 1


class TraceParent(NamedTuple):
    trace_id: int
    span_id: int
    flags: int

    @property
    def sampled(self) -> bool:
        return bool(self.flags & SAMPLED)


def parse_traceparent(value: bytes) -> TraceParent | None:
    """The parsed header, or None when it is not a valid traceparent."""
    match = _TRACEPARENT.fullmatch(value.strip())
    if match is None:
        return None
    version, trace_hex, span_hex, flags_hex, rest = match.groups()
    if version == b"ff" or (version == b"00" and rest is not None):
        return None
    trace_id = int(trace_hex, 16)
    span_id = int(span_hex, 16)
    if not trace_id or not span_id:
        return None
    return TraceParent(trace_id, span_id, int(flags_hex, 16))


def format_traceparent(trace_id: int, span_id: int, sampled: bool) -> bytes:
    return b"00-%032x-%016x-%s" % (trace_id, span_id, b"01" if sampled else b"00")


def ratio_bound(ratio: float) -> int:
    """The bound :func:`sampled_by_ratio` compares with (as OpenTelemetry's TraceIdRatioBased)."""
    if not 0.0 <= ratio <= 1.0:
        raise ValueError(f"sample ratio must be within [0, 1], got {ratio}")
    return round(ratio * (_LOW_64 + 1))


def sampled_by_ratio(trace_id: int, bound: int) -> bool:
    """The low 64 bits of the trace id decide, so every hop decides the same way."""
    return (trace_id & _LOW_64) < bound
