"""Filters as in Envoy, without the streaming complexity.

A filter is built once from typed config. Per request the chain runs every
``on_request`` in order; a filter either lets the request continue
(:data:`CONTINUE`) or answers locally with a :class:`LocalReply`. Response
hooks run in reverse order on the way back. Only the chain (through the
server) renders error responses, so every error body has the same shape.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Final, Protocol, cast

from zonegate.node.context import RequestContext
from zonegate.node.http import Headers, Request, ResponseHead


class Continue:
    """The request goes on to the next filter."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "CONTINUE"


CONTINUE: Final = Continue()


class LocalReply:
    """Answer the request at the gateway (401, 403, 429, 503 ...)."""

    __slots__ = ("body", "code", "content_type", "headers", "message", "status")

    def __init__(
        self,
        status: int,
        code: str,
        message: str = "",
        *,
        headers: Headers | None = None,
        body: bytes | None = None,
        content_type: bytes = b"application/json",
    ) -> None:
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or []
        self.body = body
        self.content_type = content_type


FilterResult = Continue | LocalReply


class Filter(Protocol):
    """One filter in the chain. ``on_request`` may be a plain function (cheaper:
    no coroutine per request) or a coroutine function; the chain handles both."""

    name: str

    def on_request(
        self, ctx: RequestContext, req: Request
    ) -> FilterResult | Awaitable[FilterResult]: ...


class ResponseFilter(Protocol):
    """A filter that also looks at (and may change) the response head; like
    ``on_request``, ``on_response`` may be a plain function or a coroutine function."""

    name: str

    def on_response(self, ctx: RequestContext, resp: ResponseHead) -> Awaitable[None] | None: ...


RequestHook = Callable[[RequestContext, Request], Any]
ResponseHook = Callable[[RequestContext, ResponseHead], Any]


class FilterChain:
    """The ordered filters for one route, with the response hooks pre-split."""

    __slots__ = ("all_sync", "filters", "hooks", "response_filters", "response_hooks")

    def __init__(self, filters: Sequence[Filter]) -> None:
        self.filters: tuple[Filter, ...] = tuple(filters)
        self.hooks: tuple[tuple[RequestHook, bool], ...] = tuple(
            (f.on_request, inspect.iscoroutinefunction(f.on_request)) for f in self.filters
        )
        self.response_filters: tuple[ResponseFilter, ...] = tuple(
            cast(ResponseFilter, f) for f in reversed(self.filters) if hasattr(f, "on_response")
        )
        self.response_hooks: tuple[tuple[ResponseHook, bool], ...] = tuple(
            (f.on_response, inspect.iscoroutinefunction(f.on_response))
            for f in self.response_filters
        )
        #: No hook is a coroutine: the proxy's callback fast path may run this chain.
        self.all_sync = not any(a for _, a in self.hooks) and not any(
            a for _, a in self.response_hooks
        )

    def on_request_sync(self, ctx: RequestContext, req: Request) -> LocalReply | None:
        """Run an ``all_sync`` chain without a coroutine."""
        for hook, _ in self.hooks:
            result = hook(ctx, req)
            if result is not CONTINUE:
                assert isinstance(result, LocalReply)
                return result
        return None

    def on_response_sync(self, ctx: RequestContext, resp: ResponseHead) -> None:
        for hook, _ in self.response_hooks:
            hook(ctx, resp)

    def on_local_reply(self, ctx: RequestContext, resp: ResponseHead) -> None:
        """A reply made at the gateway passes the (plain-function) response hooks too,
        as Envoy's local replies pass its encoder filters: a 401 or 429 on a CORS
        route carries the CORS headers, so a browser can read it."""
        for hook, is_async in self.response_hooks:
            if not is_async:
                hook(ctx, resp)

    async def on_request(self, ctx: RequestContext, req: Request) -> LocalReply | None:
        for hook, is_async in self.hooks:
            result = hook(ctx, req)
            if is_async:
                result = await result
            if result is not CONTINUE:
                assert isinstance(result, LocalReply)
                return result
        return None

    async def on_response(self, ctx: RequestContext, resp: ResponseHead) -> None:
        for hook, is_async in self.response_hooks:
            result = hook(ctx, resp)
            if is_async:
                await result
