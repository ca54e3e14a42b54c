"""One observer for the proxy that feeds metrics, tracing and the access log.

A single object with direct calls (rather than a generic fan-out) keeps the
per-request cost to a few attribute loads and calls; absent parts are None.
"""

from __future__ import annotations

from zonegate.node.attempt_hooks import AttemptHooks
from zonegate.node.context import RequestContext
from zonegate.node.http import Headers, Request
from zonegate.node.observer import RequestObserver
from zonegate.node.ops.access_log import AccessLog
from zonegate.node.ops.logs import current_request
from zonegate.node.ops.metrics import NodeMetrics
from zonegate.node.ops.tracing import RequestTracer
from zonegate.node.upstream.host import Host


class OpsObserver(RequestObserver, AttemptHooks):
    """Request and attempt hooks of a node with its operational parts."""

    def __init__(
        self,
        metrics: NodeMetrics | None = None,
        tracer: RequestTracer | None = None,
        access_log: AccessLog | None = None,
    ) -> None:
        self.metrics = metrics
        self.tracer = tracer
        self.access_log = access_log

    # --- RequestObserver -----------------------------------------------------------
    def request_started(self, ctx: RequestContext, req: Request, in_task: bool = True) -> None:
        if in_task:
            # Task-local (each coroutine-path request has its own task): no reset needed.
            # The callback fast path runs outside tasks; binding there would leak.
            current_request.set(ctx)
        if self.metrics is not None:
            self.metrics.active.value += 1
        if self.tracer is not None:
            self.tracer.request_started(ctx, req)

    def request_finished(self, ctx: RequestContext, req: Request) -> None:
        duration = ctx.duration()
        if self.tracer is not None:
            self.tracer.request_finished(ctx, req)
        metrics = self.metrics
        if metrics is not None:
            metrics.active.value -= 1
            metrics.request_finished(ctx, duration)
        if self.access_log is not None:
            self.access_log.log(ctx, req, duration)

    def retried(self, ctx: RequestContext) -> None:
        if self.metrics is not None:
            self.metrics.retried(ctx)

    # --- AttemptHooks --------------------------------------------------------------
    def upstream_headers(self, ctx: RequestContext, req: Request) -> Headers | None:
        return self.tracer.upstream_headers(ctx, req) if self.tracer is not None else None

    def attempt_started(self, ctx: RequestContext, host: Host) -> Headers | None:
        return self.tracer.attempt_started(ctx, host) if self.tracer is not None else None

    def attempt_finished(
        self, ctx: RequestContext, host: Host, status: int, error: Exception | None
    ) -> None:
        if self.metrics is not None:
            self.metrics.attempt_finished(ctx, status, error)
        if self.tracer is not None:
            self.tracer.attempt_finished(ctx, host, status, error)
