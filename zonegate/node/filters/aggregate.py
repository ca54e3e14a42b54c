"""The last filter of an ``aggregate`` route: fan out, merge, answer at the gateway."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl

from zonegate import conventions as cv
from zonegate.node.compose.executor import SendCall, execute
from zonegate.node.compose.plan import HOP_BY_HOP, CompositionPlan
from zonegate.node.compose.template import Inputs
from zonegate.node.context import RequestContext
from zonegate.node.filters.base import FilterResult, LocalReply
from zonegate.node.filters.policy_deps import PolicyObserver
from zonegate.node.http import Headers, Request

PARTIAL = cv.HEADER_PARTIAL.encode()
FAILED_CALL = b"x-zonegate-failed-call"
ACCEPT_JSON = (b"accept", b"application/json")
REQUEST_ID = cv.HEADER_REQUEST_ID.encode()


class AggregateFilter:
    name = "aggregate"

    def __init__(
        self,
        route: str,
        plan: CompositionPlan,
        path_regex: str | None,
        timeout_s: float,
        send: SendCall,
        observer: PolicyObserver,
    ) -> None:
        self.route = route
        self.plan = plan
        self.path_pattern = re.compile(path_regex) if path_regex else None
        self.timeout_s = timeout_s
        self.send = send
        self.observer = observer

    def _forwarded(self, ctx: RequestContext, req: Request) -> Headers:
        """The request's end-to-end headers (or the configured ones) plus the request id."""
        allowed = self.plan.forward_headers
        if allowed is None:
            out = [(k, v) for k, v in req.headers if k not in HOP_BY_HOP and k != REQUEST_ID]
        else:
            out = [(k, v) for k, v in req.headers if k in allowed and k not in HOP_BY_HOP]
            out = [(k, v) for k, v in out if k != REQUEST_ID]
        out.append(ACCEPT_JSON)
        if ctx.request_id:
            out.append((REQUEST_ID, ctx.request_id.encode("latin-1")))
        return out

    def _inputs(self, req: Request) -> Inputs:
        params: dict[str, str | None] = {}
        if self.path_pattern is not None:
            match = self.path_pattern.fullmatch(req.path) or self.path_pattern.match(req.path)
            if match is not None:
                params = match.groupdict()
        query: dict[str, str] = {}
        if req.query and self.plan.query_params:
            for key, value in parse_qsl(req.query, keep_blank_values=True):
                query.setdefault(key, value)
        return Inputs(params, query)

    def _report(self, call: str, outcome: str, seconds: float) -> None:
        self.observer.composition_call(self.route, call, outcome, seconds)

    async def on_request(self, ctx: RequestContext, req: Request) -> FilterResult:
        result = await execute(
            self.plan,
            self._inputs(req),
            self._forwarded(ctx, req),
            self.send,
            self.timeout_s,
            self._report,
        )
        if result.status != 200:
            headers = [(FAILED_CALL, result.failed_call.encode())] if result.failed_call else []
            return LocalReply(result.status, result.code, result.message, headers=headers)
        headers = [(PARTIAL, ",".join(result.partial).encode())] if result.partial else []
        return LocalReply(200, "", headers=headers, body=result.body)
