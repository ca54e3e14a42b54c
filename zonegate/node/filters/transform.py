"""Header transforms per route: remove, then set (replace), then add (append).

Values may use ``${request_id}``, ``${consumer}``, ``${zone}``, ``${node}``,
``${route}``, ``${client_ip}``, ``${method}``, ``${path}``, ``${host}``. Zone and
node are filled in at build time; response values that need the request are
rendered on the way in and kept in the context.
"""

from __future__ import annotations

from collections.abc import Callable

from zonegate.config.policies import HeaderOps, Transform
from zonegate.node.context import RequestContext
from zonegate.node.filters.base import CONTINUE, FilterResult
from zonegate.node.http import Headers, Request, ResponseHead
from zonegate.node.policy.templates import Rendered, compile_template, request_getters

RESPONSE_VALUES_ATTRIBUTE = "zonegate.transform.response"
Value = bytes | Rendered


class CompiledOps:
    __slots__ = ("add", "dynamic", "remove", "set")

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
        self.dynamic = any(not isinstance(v, bytes) for _, v in (*self.set, *self.add))

    def empty(self) -> bool:
        return not (self.remove or self.set or self.add)

    def render(self, ctx: RequestContext, req: Request) -> tuple[Headers, Headers]:
        """(set, add) with every value rendered for this request."""
        return (
            [(n, v if isinstance(v, bytes) else v(ctx, req)) for n, v in self.set],
            [(n, v if isinstance(v, bytes) else v(ctx, req)) for n, v in self.add],
        )

    def apply(self, headers: Headers, set_values: Headers, add_values: Headers) -> None:
        drop = self.remove
        if set_values:
            drop = drop | {n for n, _ in set_values}
        if drop:
            headers[:] = [(k, v) for k, v in headers if k not in drop]
        headers.extend(set_values)
        headers.extend(add_values)


class TransformFilter:
    name = "transform"

    def __init__(
        self, cfg: Transform, static: dict[str, str], client_ip: Callable[[Request], str]
    ) -> None:
        self.request_ops = CompiledOps(cfg.request_headers, static, client_ip)
        self.response_ops = CompiledOps(cfg.response_headers, static, client_ip)
        self._static_response: tuple[Headers, Headers] | None = None
        if not self.response_ops.dynamic:
            self._static_response = (
                [(n, v) for n, v in self.response_ops.set if isinstance(v, bytes)],
                [(n, v) for n, v in self.response_ops.add if isinstance(v, bytes)],
            )

    def on_request(self, ctx: RequestContext, req: Request) -> FilterResult:
        ops = self.request_ops
        if not ops.empty():
            set_values, add_values = ops.render(ctx, req)
            ops.apply(req.headers, set_values, add_values)
        if self.response_ops.dynamic:
            ctx.set_attribute(RESPONSE_VALUES_ATTRIBUTE, self.response_ops.render(ctx, req))
        return CONTINUE


class ResponseTransformFilter(TransformFilter):
    """A transform with response header operations."""

    async def on_response(self, ctx: RequestContext, resp: ResponseHead) -> None:
        values = self._static_response
        if values is None:
            attributes = ctx.attributes
            values = attributes.get(RESPONSE_VALUES_ATTRIBUTE) if attributes else None
            if values is None:
                values = ([], [])
        self.response_ops.apply(resp.headers, values[0], values[1])
