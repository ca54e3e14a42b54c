"""Build a node's operational parts from its settings and hand them to the runtime."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Gauge
from prometheus_client.metrics_core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector

from zonegate import conventions as cv
from zonegate.config.node import NodeSettings
from zonegate.node.ops.access_log import AccessLog, AccessLogWriter
from zonegate.node.ops.cluster_events import MetricsClusterEvents
from zonegate.node.ops.metrics import NodeMetrics
from zonegate.node.ops.observer import OpsObserver
from zonegate.node.ops.tracing import RequestTracer

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import SpanProcessor, TracerProvider

log = logging.getLogger("zonegate.node")


class NodeOps:
    """Metrics, tracing and access log of one node, wired into one observer.

    ``span_processor`` replaces the OTLP exporter (tests pass an in-memory one).
    """

    def __init__(
        self,
        settings: NodeSettings,
        node_id: str,
        zone: str,
        *,
        registry: CollectorRegistry | None = None,
        span_processor: SpanProcessor | None = None,
    ) -> None:
        self.settings = settings
        self._closed = False
        self.metrics = NodeMetrics(node_id, zone, registry)
        self.registry = self.metrics.registry
        self.events = MetricsClusterEvents(self.metrics)
        tracing = settings.tracing
        self.provider: TracerProvider | None = None
        otel = None
        if span_processor is not None or tracing.otlp_endpoint is not None:
            # The SDK is imported only when spans are exported (it costs startup time).
            from zonegate.node.ops.otel import (
                TRACER_NAME,
                batch_processor,
                otlp_exporter,
                tracer_provider,
            )

            if span_processor is None:
                assert tracing.otlp_endpoint is not None
                exporter = otlp_exporter(tracing.otlp_endpoint, tracing.otlp_protocol)
                span_processor = batch_processor(exporter)
            self.provider = tracer_provider(tracing.service_name, node_id, zone, span_processor)
            otel = self.provider.get_tracer(TRACER_NAME)
        self.tracer = RequestTracer(otel, tracing.sample_ratio)
        self.writer: AccessLogWriter | None = None
        access_log: AccessLog | None = None
        if settings.access_log.path is not None:
            self.writer = AccessLogWriter(
                settings.access_log.path,
                flush_interval_s=settings.access_log.flush_interval_s,
                max_pending_bytes=settings.access_log.max_pending_bytes,
            )
            access_log = AccessLog(self.writer, node_id, zone)
            self.registry.register(_AccessLogCollector(self.writer, self.metrics.base))
        self.observer = OpsObserver(self.metrics, self.tracer, access_log)
        self.tls_reloads = Counter(
            cv.TLS_CERT_RELOADS_TOTAL.removesuffix("_total"),
            "Listener certificate reloads by result (success or failure).",
            (cv.LABEL_NODE, cv.LABEL_ZONE, cv.LABEL_RESULT),
            registry=self.registry,
        )
        self.tls_expiry = Gauge(
            cv.TLS_CERT_EXPIRY,
            "notAfter of the listener certificate in service.",
            (cv.LABEL_NODE, cv.LABEL_ZONE),
            registry=self.registry,
        )

    def node_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of :class:`~zonegate.node.runtime.GatewayNode` for these parts."""
        return {
            "observer": self.observer,
            "events": self.events,
            "attempt_hooks": self.observer,
            "snapshot_listeners": [self.metrics.snapshot_applied],
        }

    def tls_reloaded(self, ok: bool, expiry: float) -> None:
        self.tls_reloads.labels(*self.metrics.base, "success" if ok else "failure").inc()
        self.tls_expiry.labels(*self.metrics.base).set(expiry)

    def start(self) -> None:
        if self.writer is not None:
            self.writer.start()

    async def close(self) -> None:
        """Flush the access log and the spans not exported yet (once)."""
        if self._closed:
            return
        self._closed = True
        if self.writer is not None:
            await self.writer.close()
        if self.provider is not None:
            provider = self.provider
            await asyncio.get_running_loop().run_in_executor(None, provider.shutdown)


class _AccessLogCollector(Collector):
    def __init__(self, writer: AccessLogWriter, base: tuple[str, str]) -> None:
        self.writer = writer
        self.base = list(base)

    def collect(self) -> Iterable[Metric]:
        labels = [cv.LABEL_NODE, cv.LABEL_ZONE]
        written = CounterMetricFamily(
            cv.ACCESS_LOG_LINES_TOTAL, "Access log lines written.", labels=labels
        )
        written.add_metric(self.base, self.writer.written_lines)
        dropped = CounterMetricFamily(
            cv.ACCESS_LOG_DROPPED_TOTAL,
            "Access log lines dropped (writer too far behind, or a failed write).",
            labels=labels,
        )
        dropped.add_metric(self.base, self.writer.dropped_lines + self.writer.failed_lines)
        return [written, dropped]
