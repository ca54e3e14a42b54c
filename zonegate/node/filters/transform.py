"""Header transforms per route: remove, then set (replace), then add (append).

Values may use ``${request_id}``, ``${consumer}``, ``${zone}``, ``${node}``,
``${route}``, ``${client_ip}``, ``${method}``, ``${path}``, ``${host}``. Zone and
node are filled in at build time; response values that need the request are
rendered on the way in and kept in the context.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from zonegate.config.policies import HeaderOps, Transform
from zonegate.node.context import RequestContext
from zonegate.node.filters.base import CONTINUE, FilterResult
from zonegate.node.http import Headers, Request, ResponseHead
from zonegate.node.policy.templates import Rendered, compile_template, request_getters

RESPONSE_VALUES_ATTRIBUTE: Final = "zonegate.transform.response"
Value = bytes | Rendered


class CompiledOps:
    __slots__ = ("add", "drop", "dynamic", "remove", "set")

    def __init__(
        self, ops: HeaderOps, static: dict[str, str], client_ip: Callable[[Request], str]
    ) -> None:
        getters = request_getters(client_ip)
        self.remove = frozenset(n.encode("latin-1") for n in ops.remove)
        self.set: tuple[tuple[bytes, Value], ...] = tuple(
            (n.encode("latin-1"), compile_template(v, static, getters)) for n, v in ops.set.items()
        )
        self.add: tuple[tuple[bytes, Value], ...] = tuple(
            (n.encode("latin-1"), compile_template(v, static, getters)) for n, v in ops.add.items()
        )
        self.drop = self.remove | {n for n, _ in self.set}
        self.dynamic = any(not isinstance(v, bytes) for _, v in (*self.set, *self.add))

    def empty(self) -> bool:
        return not (self.remove or self.set or self.add)

    def rendered(self, ctx: RequestContext, req: Request) -> Headers:
        """The set and add headers, in that order, with values for this request."""
        return [(n, v if isinstance(v, bytes) else v(ctx, req)) for n, v in (*self.set, *self.add)]

    def apply(self, headers: Headers, values: Headers) -> None:
        drop = self.drop
        if drop:
            for name, _ in headers:
                if name in drop:  # rebuild the list only when something goes
                    headers[:] = [(k, v) for k, v in headers if k not in drop]
                    break
        headers.extend(values)


class TransformFilter:
    name = "transform"

    def __init__(
        self, cfg: Transform, static: dict[str, str], client_ip: Callable[[Request], str]
    ) -> None:
        self.request_ops = CompiledOps(cfg.request_headers, static, client_ip)
        self.response_ops = CompiledOps(cfg.response_headers, static, client_ip)
        self._request_static: Headers | None = None
        if not self.request_ops.dynamic:
            self._request_static = [
                (n, v)
                for n, v in (*self.request_ops.set, *self.request_ops.add)
                if isinstance(v, bytes)
            ]
        self._response_static: Headers | None = None
        if not self.response_ops.dynamic:
            self._response_static = [
                (n, v)
                for n, v in (*self.response_ops.set, *self.response_ops.add)
                if isinstance(v, bytes)
            ]
        self._request_empty = self.request_ops.empty()

    def on_request(self, ctx: RequestContext, req: Request) -> FilterResult:
        if not self._request_empty:
            ops = self.request_ops
            values = self._request_static
            ops.apply(req.headers, values if values is not None else ops.rendered(ctx, req))
        if self._response_static is None:
            ctx.set_attribute(RESPONSE_VALUES_ATTRIBUTE, self.response_ops.rendered(ctx, req))
        return CONTINUE


class ResponseTransformFilter(TransformFilter):
    """A transform with response header operations."""

    def on_response(self, ctx: RequestContext, resp: ResponseHead) -> None:
        values = self._response_static
        if values is None:
            attributes = ctx.attributes
            values = attributes.get(RESPONSE_VALUES_ATTRIBUTE) if attributes else None
            if values is None:
                values = []
        self.response_ops.apply(resp.headers, values)
