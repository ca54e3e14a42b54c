"""Hooks the proxy calls for observability (metrics, tracing, access log).

The base class does nothing; :class:`CompositeObserver` fans out to several.
Hooks are called on the hot path: keep them cheap and never raise.
"""

from __future__ import annotations

from collections.abc import Sequence

from zonegate.node.context import RequestContext
from zonegate.node.http import Request


class RequestObserver:
    """No-op observer; subclasses override what they need."""

    def request_started(self, ctx: RequestContext, req: Request, in_task: bool = True) -> None:
        """``in_task``: the request runs in its own task (False on the callback fast path)."""
        return None

    def request_finished(self, ctx: RequestContext, req: Request) -> None:
        return None

    def attempt_failed(self, ctx: RequestContext, error: Exception) -> None:
        return None

    def retried(self, ctx: RequestContext) -> None:
        return None


class CompositeObserver(RequestObserver):
    def __init__(self, observers: Sequence[RequestObserver]) -> None:
        self.observers = tuple(observers)

    def request_started(self, ctx: RequestContext, req: Request, in_task: bool = True) -> None:
        for o in self.observers:
            o.request_started(ctx, req, in_task)

    def request_finished(self, ctx: RequestContext, req: Request) -> None:
        for o in self.observers:
            o.request_finished(ctx, req)

    def attempt_failed(self, ctx: RequestContext, error: Exception) -> None:
        for o in self.observers:
            o.attempt_failed(ctx, error)

    def retried(self, ctx: RequestContext) -> None:
        for o in self.observers:
            o.retried(ctx)
