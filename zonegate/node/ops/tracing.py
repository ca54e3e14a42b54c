"""OpenTelemetry tracing of requests: a server span per request, a client span per attempt.

Sampling is parent-based with a ratio for new traces (OpenTelemetry's
``ParentBased(TraceIdRatioBased(ratio))``), decided here before any SDK call:

- not sampled (most requests): no SDK span at all. A valid incoming
  ``traceparent`` goes upstream unchanged; a request without one gets a new
  trace id and a ``traceparent`` with the sampled flag off.
- sampled: an SDK server span (child of the incoming context), and per
  upstream attempt a client span whose id is the parent id in the
  ``traceparent`` sent upstream (the incoming header is replaced).

Without an exporter (no tracer) the node only propagates incoming headers and
starts no trace (its spans would never arrive). ``ctx.span`` holds
the tracing state of a request: None (pass-through), the headers to add
upstream (a new unsampled trace), or a :class:`RequestTrace` (sampled).
"""

from __future__ import annotations

import time
from typing import Final

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import (
    NonRecordingSpan,
    Span,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
    TraceState,
)

from zonegate import conventions as cv
from zonegate.node.attempt_hooks import AttemptHooks
from zonegate.node.context import RequestContext
from zonegate.node.errors import NodeError
from zonegate.node.http import Headers, Request
from zonegate.node.ops.traceparent import (
    format_traceparent,
    parse_traceparent,
    ratio_bound,
)
from zonegate.node.random_ids import random_16
from zonegate.node.upstream.host import Host

TRACEPARENT: Final = cv.HEADER_TRACEPARENT.encode()
TRACESTATE: Final = cv.HEADER_TRACESTATE.encode()


_ZERO_8: Final = bytes(8)


class RequestTrace:
    """Tracing state of one sampled request."""

    __slots__ = ("client", "client_end_ns", "method", "parent", "server")

    def __init__(self, server: Span, parent: Context, method: str) -> None:
        self.server = server
        self.parent = parent
        self.method = method
        self.client: Span | None = None
        self.client_end_ns: int | None = None


def _remove_header(req: Request, name: bytes) -> None:
    req.headers[:] = [(k, v) for k, v in req.headers if k != name]


class RequestTracer(AttemptHooks):
    """Decides sampling, makes the spans and the ``traceparent`` headers."""

    def __init__(self, tracer: trace.Tracer | None, sample_ratio: float) -> None:
        self.tracer = tracer
        self.bound = ratio_bound(sample_ratio)

    # --- request ---------------------------------------------------------------
    def request_started(self, ctx: RequestContext, req: Request) -> None:
        raw = req.header(TRACEPARENT)
        parent = parse_traceparent(raw) if raw is not None else None
        if parent is not None:
            ctx.trace_id = f"{parent.trace_id:032x}"
            if not parent.sampled or self.tracer is None:
                return  # pass the incoming header through untouched
            remote = SpanContext(
                parent.trace_id,
                parent.span_id,
                is_remote=True,
                trace_flags=TraceFlags(parent.flags),
                trace_state=self._trace_state(req),
            )
            _remove_header(req, TRACEPARENT)
            self._start_server(ctx, req, trace.set_span_in_context(NonRecordingSpan(remote)))
            return
        if raw is not None:
            _remove_header(req, TRACEPARENT)  # invalid: restart the trace
        if self.tracer is None:
            # No spans leave this node: a trace started here would name a parent
            # span that never arrives, so new traces start at the backend (as Envoy).
            return
        # The hot path: 16 random bytes give the trace id and (its high half) the parent id.
        raw = random_16()
        while raw.startswith(_ZERO_8):
            raw = random_16()  # an all-zero parent id is invalid
        sampled = self.bound > 0 and int.from_bytes(raw[8:]) < self.bound
        if sampled and self.tracer is not None:
            self._start_server(ctx, req, None)
            return
        hex_id = ctx.trace_id = raw.hex()
        flags = "-01" if sampled else "-00"
        ctx.span = [(TRACEPARENT, f"00-{hex_id}-{hex_id[:16]}{flags}".encode())]

    @staticmethod
    def _trace_state(req: Request) -> TraceState | None:
        raw = req.header(TRACESTATE)
        return TraceState.from_header([raw.decode("latin-1")]) if raw else None

    def _start_server(self, ctx: RequestContext, req: Request, parent: Context | None) -> None:
        assert self.tracer is not None
        attributes: dict[str, str | int] = {
            "http.request.method": req.method,
            "url.path": req.path,
            "url.scheme": req.scheme,
            "client.address": req.client_ip,
            "network.protocol.version": req.version,
        }
        if req.query:
            attributes["url.query"] = req.query
        if req.host:
            attributes["server.address"] = req.host
        agent = req.header(b"user-agent")
        if agent:
            attributes["user_agent.original"] = agent.decode("latin-1")
        span = self.tracer.start_span(
            req.method,
            context=parent,
            kind=SpanKind.SERVER,
            attributes=attributes,
            start_time=int(ctx.start_wall * 1e9),
        )
        ctx.trace_id = f"{span.get_span_context().trace_id:032x}"
        ctx.span = RequestTrace(span, trace.set_span_in_context(span), req.method)

    def request_finished(self, ctx: RequestContext, req: Request) -> None:
        state = ctx.span
        if state.__class__ is not RequestTrace:
            return
        if state.client is not None:
            self._end_client(state, time.time_ns())
        span = state.server
        status = ctx.status
        span.set_attribute("http.response.status_code", status)
        span.set_attribute("zonegate.request_id", ctx.request_id)
        if ctx.route:
            span.update_name(f"{req.method} {ctx.route}")
            span.set_attribute("http.route", ctx.route)
            span.set_attribute("zonegate.cluster", ctx.cluster)
            span.set_attribute("zonegate.attempts", ctx.attempts)
        if ctx.error_code:
            span.set_attribute("error.type", ctx.error_code)
        if status >= 500 or status == 0:
            span.set_status(Status(StatusCode.ERROR, ctx.error_code or None))
        span.end()

    # --- attempts (AttemptHooks) ---------------------------------------------------
    def upstream_headers(self, ctx: RequestContext, req: Request) -> Headers | None:
        state = ctx.span
        return state if state.__class__ is list else None

    def attempt_started(self, ctx: RequestContext, host: Host) -> Headers | None:
        state = ctx.span
        if state.__class__ is not RequestTrace:
            return None
        assert self.tracer is not None
        if state.client is not None:  # the previous attempt ended when its answer came
            self._end_client(state, state.client_end_ns or time.time_ns())
        attributes: dict[str, str | int] = {
            "http.request.method": state.method,
            "server.address": host.host,
            "server.port": host.port,
            "zonegate.upstream_zone": host.zone,
        }
        if ctx.attempts > 1:
            attributes["http.request.resend_count"] = ctx.attempts - 1
        client = self.tracer.start_span(
            state.method, context=state.parent, kind=SpanKind.CLIENT, attributes=attributes
        )
        state.client = client
        state.client_end_ns = None
        sc = client.get_span_context()
        return [(TRACEPARENT, format_traceparent(sc.trace_id, sc.span_id, True))]

    def attempt_finished(
        self, ctx: RequestContext, host: Host, status: int, error: Exception | None
    ) -> None:
        state = ctx.span
        if state.__class__ is not RequestTrace or state.client is None:
            return
        client = state.client
        if error is not None:
            code = error.code if isinstance(error, NodeError) else type(error).__name__
            client.set_attribute("error.type", code)
            client.set_status(Status(StatusCode.ERROR, str(error)))
            self._end_client(state, time.time_ns())
            return
        client.set_attribute("http.response.status_code", status)
        if status >= 400:
            client.set_status(Status(StatusCode.ERROR))
        # Ends when the response has been relayed (request end) or the next attempt starts.
        state.client_end_ns = time.time_ns()

    @staticmethod
    def _end_client(state: RequestTrace, end_ns: int) -> None:
        if state.client is not None:
            state.client.end(end_time=end_ns)
            state.client = None
