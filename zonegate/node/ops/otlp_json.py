"""An OTLP/HTTP span exporter with the JSON encoding (``application/json``).

The SDK's own OTLP exporter builds protobuf messages in Python: about 65 us
per span on this machine, more than making the span. OTLP/HTTP also defines a
JSON encoding (https://opentelemetry.io/docs/specs/otlp/#json-protobuf-encoding),
which every collector accepts on the same ``/v1/traces`` path; built with
``json.dumps`` it costs a few microseconds per span. It runs in the SDK's batch
thread like any ``SpanExporter``.

JSON mapping as the spec says: trace and span ids as hex, 64-bit integers
(times, int attributes) as decimal strings, enums as numbers.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

log = logging.getLogger("zonegate.node.tracing")


def any_value(value: object) -> dict[str, Any]:
    """An attribute value as an OTLP ``AnyValue``."""
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": value}
    if isinstance(value, str):
        return {"stringValue": value}
    if isinstance(value, Mapping):
        return {"kvlistValue": {"values": key_values(value)}}
    if isinstance(value, list | tuple):
        return {"arrayValue": {"values": [any_value(v) for v in value]}}
    return {} if value is None else {"stringValue": str(value)}


def key_values(attributes: Mapping[str, object] | None) -> list[dict[str, Any]]:
    return [{"key": k, "value": any_value(v)} for k, v in (attributes or {}).items()]


def encode_span(span: ReadableSpan) -> dict[str, Any]:
    context = span.context
    assert context is not None
    out: dict[str, Any] = {
        "traceId": f"{context.trace_id:032x}",
        "spanId": f"{context.span_id:016x}",
        "flags": int(context.trace_flags)
        | (0x300 if span.parent and span.parent.is_remote else 0x100),
        "name": span.name,
        "kind": span.kind.value + 1,  # OTLP counts SPAN_KIND_UNSPECIFIED as 0
        "startTimeUnixNano": str(span.start_time or 0),
        "endTimeUnixNano": str(span.end_time or 0),
        "attributes": key_values(span.attributes),
        "status": {"code": span.status.status_code.value},
    }
    if span.parent is not None:
        out["parentSpanId"] = f"{span.parent.span_id:016x}"
    if span.status.description:
        out["status"]["message"] = span.status.description
    if span.events:
        out["events"] = [
            {
                "timeUnixNano": str(e.timestamp),
                "name": e.name,
                "attributes": key_values(e.attributes),
            }
            for e in span.events
        ]
    if span.links:
        out["links"] = [
            {
                "traceId": f"{link.context.trace_id:032x}",
                "spanId": f"{link.context.span_id:016x}",
                "attributes": key_values(link.attributes),
            }
            for link in span.links
        ]
    return out


def encode_request(spans: Sequence[ReadableSpan]) -> bytes:
    """The body of one ``POST /v1/traces``: spans grouped by resource, then by scope."""
    grouped: dict[int, tuple[Any, dict[tuple[str, str], list[dict[str, Any]]]]] = {}
    for span in spans:
        resource = span.resource
        _, scopes = grouped.setdefault(id(resource), (resource, defaultdict(list)))
        scope = span.instrumentation_scope
        key = (scope.name, scope.version or "") if scope is not None else ("", "")
        scopes[key].append(encode_span(span))
    body = {
        "resourceSpans": [
            {
                "resource": {"attributes": key_values(resource.attributes)},
                "scopeSpans": [
                    {"scope": {"name": name, "version": version}, "spans": encoded}
                    for (name, version), encoded in scopes.items()
                ],
            }
            for resource, scopes in grouped.values()
        ]
    }
    return json.dumps(body, separators=(",", ":")).encode()


class OtlpJsonSpanExporter(SpanExporter):
    """POSTs batches of spans as OTLP JSON to ``url`` (``.../v1/traces``)."""

    def __init__(self, url: str, timeout_s: float = 5.0) -> None:
        self.url = url
        self.timeout_s = timeout_s
        self._stopped = False

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if self._stopped or not spans:
            return SpanExportResult.SUCCESS
        request = urllib.request.Request(
            self.url,
            data=encode_request(spans),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                response.read()
        except (OSError, urllib.error.URLError) as exc:
            log.warning(
                "otlp_export_failed",
                extra={"url": self.url, "spans": len(spans), "error": str(exc)},
            )
            return SpanExportResult.FAILURE
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        self._stopped = True

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True
