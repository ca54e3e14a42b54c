"""Rate limiting: each configured limit counts the request under its key.

An enforced limit that says no answers 429 ``rate_limited`` with Retry-After and
RateLimit-Limit / -Remaining / -Reset. In shadow mode (``enforce: false``) the
request goes on; the would-be rejection is counted and logged (at most once a
second per limit, with how many were suppressed). With ``headers: true`` the
most restrictive allowed decision is reported on the response too.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from zonegate import conventions as cv
from zonegate.node.context import RequestContext
from zonegate.node.filters.base import CONTINUE, FilterResult, LocalReply
from zonegate.node.filters.policy_deps import PolicyObserver
from zonegate.node.http import Headers, Request, ResponseHead
from zonegate.node.policy.decision import Clock, Decision
from zonegate.node.policy.keys import KeyPartGetter
from zonegate.node.policy.limiter import RateLimitBackend

log = logging.getLogger("zonegate.ratelimit")
RATE_LIMIT_ATTRIBUTE: Final = "zonegate.rate_limit"
LIMIT: Final = cv.HEADER_RATELIMIT_LIMIT.encode()
REMAINING: Final = cv.HEADER_RATELIMIT_REMAINING.encode()
RESET: Final = cv.HEADER_RATELIMIT_RESET.encode()
RETRY_AFTER: Final = cv.HEADER_RETRY_AFTER.encode()


def decision_headers(decision: Decision) -> Headers:
    return [
        (LIMIT, b"%d" % decision.limit),
        (REMAINING, b"%d" % decision.remaining),
        (RESET, b"%d" % decision.reset_seconds),
    ]


@dataclass(slots=True)
class BoundLimit:
    """One configured limit, ready to use: its backend and key function."""

    name: str
    backend: RateLimitBackend
    key: KeyPartGetter
    enforce: bool
    headers: bool
    last_log: float = float("-inf")
    suppressed: int = 0


class RateLimitFilter:
    name = "rate_limit"

    def __init__(
        self, route: str, limits: Sequence[BoundLimit], observer: PolicyObserver, clock: Clock
    ) -> None:
        self.route = route
        self.limits = tuple(limits)
        self.observer = observer
        self.clock = clock

    def on_request(self, ctx: RequestContext, req: Request) -> FilterResult:
        report: Decision | None = None
        for limit in self.limits:
            key = limit.key(ctx, req)
            decision = limit.backend.hit(key)
            if decision.allowed:
                if limit.headers and (report is None or decision.remaining < report.remaining):
                    report = decision
                continue
            if limit.enforce:
                self.observer.rate_limit_decision(self.route, limit.name, "limited")
                headers = [(RETRY_AFTER, b"%d" % decision.retry_after_seconds)]
                headers += decision_headers(decision)
                return LocalReply(429, cv.ERR_RATE_LIMITED, "rate limit exceeded", headers=headers)
            self.observer.rate_limit_decision(self.route, limit.name, "shadow_limited")
            self._log_shadow(ctx, limit, key)
        if report is not None:
            ctx.set_attribute(RATE_LIMIT_ATTRIBUTE, report)
        return CONTINUE

    def _log_shadow(self, ctx: RequestContext, limit: BoundLimit, key: str) -> None:
        now = self.clock()
        if now - limit.last_log < 1.0:
            limit.suppressed += 1
            return
        log.info(
            "rate_limit_shadow",
            extra={
                "event": "rate_limit_shadow",
                "limit": limit.name,
                "route": self.route,
                "key": key,
                "consumer": ctx.consumer,
                "request_id": ctx.request_id,
                "suppressed": limit.suppressed,
            },
        )
        limit.last_log = now
        limit.suppressed = 0


class RateLimitHeadersFilter(RateLimitFilter):
    """Also puts RateLimit-* on allowed responses (only built when a limit asks for it)."""

    def on_response(self, ctx: RequestContext, resp: ResponseHead) -> None:
        attributes = ctx.attributes
        decision = attributes.get(RATE_LIMIT_ATTRIBUTE) if attributes else None
        if isinstance(decision, Decision):
            resp.headers.extend(decision_headers(decision))
