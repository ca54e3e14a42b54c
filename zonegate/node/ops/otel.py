"""The OpenTelemetry SDK side: a tracer provider per node and the OTLP/HTTP exporter.

The provider is the node's own (never the global one, so several nodes can
share a process in tests). Spans are exported from the SDK's batch thread,
off the event loop; the sampling decision is made before the SDK is called
(:mod:`zonegate.node.ops.tracing`), so the provider samples everything it sees.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_ON

from zonegate import __version__

TRACER_NAME = "zonegate.node"


def otlp_traces_url(endpoint: str) -> str:
    """``http://collector:4318`` -> ``http://collector:4318/v1/traces``; full URLs stay."""
    parts = urlsplit(endpoint)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise ValueError(f"OTLP endpoint must be an http(s) URL, got {endpoint!r}")
    if parts.path in {"", "/"}:
        parts = parts._replace(path="/v1/traces")
    return urlunsplit(parts)


def otlp_exporter(
    endpoint: str, protocol: str = "http/json", timeout_s: float = 5.0
) -> SpanExporter:
    """The OTLP/HTTP exporter for ``protocol`` (``http/json`` or ``http/protobuf``)."""
    if protocol == "http/json":
        from zonegate.node.ops.otlp_json import OtlpJsonSpanExporter

        return OtlpJsonSpanExporter(otlp_traces_url(endpoint), timeout_s)
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter(endpoint=otlp_traces_url(endpoint), timeout=timeout_s)


def tracer_provider(
    service_name: str,
    node_id: str,
    zone: str,
    processor: SpanProcessor,
) -> TracerProvider:
    resource = Resource.create(
        {
            "service.name": service_name,
            "service.version": __version__,
            "service.instance.id": node_id,
            "cloud.availability_zone": zone,
        }
    )
    provider = TracerProvider(sampler=ALWAYS_ON, resource=resource, shutdown_on_exit=False)
    provider.add_span_processor(processor)
    return provider


def batch_processor(exporter: SpanExporter) -> SpanProcessor:
    return BatchSpanProcessor(exporter, max_queue_size=8192, schedule_delay_millis=1000)
