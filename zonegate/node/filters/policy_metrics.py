"""Prometheus counters for the policy filters (a :class:`PolicyObserver`).

Only events are counted (rejections, would-be rejections, composition calls),
never allowed requests, so the hot path pays nothing. Labels are bounded:
route, limit and call names come from config, reasons from a fixed set; no
label ever holds a consumer, a client address or a credential.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter

from zonegate import conventions as cv


class PrometheusPolicyObserver:
    def __init__(self, registry: CollectorRegistry, node: str, zone: str) -> None:
        base = (cv.LABEL_NODE, cv.LABEL_ZONE, cv.LABEL_ROUTE)
        self._base = (node, zone)
        self.auth_failures = Counter(
            cv.AUTH_FAILURES_TOTAL,
            "Requests refused by authentication (401) or authorization (403)",
            (*base, "method", cv.LABEL_REASON),
            registry=registry,
        )
        self.rate_limits = Counter(
            cv.RATE_LIMIT_DECISIONS_TOTAL,
            "Requests a rate limit refused (limited) or would have refused (shadow_limited)",
            (*base, cv.LABEL_LIMIT, cv.LABEL_DECISION),
            registry=registry,
        )
        self.calls = Counter(
            cv.COMPOSITION_CALLS_TOTAL,
            "Upstream calls of aggregate routes by outcome (ok, failed, timeout, skipped)",
            (*base, cv.LABEL_CALL, cv.LABEL_OUTCOME),
            registry=registry,
        )

    def auth_failed(self, route: str, method: str, reason: str) -> None:
        self.auth_failures.labels(*self._base, route, method, reason).inc()

    def rate_limit_decision(self, route: str, limit: str, decision: str) -> None:
        self.rate_limits.labels(*self._base, route, limit, decision).inc()

    def composition_call(self, route: str, call: str, outcome: str, seconds: float) -> None:
        self.calls.labels(*self._base, route, call, outcome).inc()
