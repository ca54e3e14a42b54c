"""Whether an attempt's outcome may be retried, and whether the retry budget allows it."""

from __future__ import annotations

from typing import Final

from zonegate.config.routes import RetryPolicy
from zonegate.node.errors import ConnectFailed, UpstreamError, UpstreamTimeout
from zonegate.node.upstream.cluster import UpstreamCluster

_GATEWAY_ERRORS: Final = frozenset({502, 503, 504})


def status_is_retriable(policy: RetryPolicy, status: int) -> bool:
    on = policy.retry_on
    return (
        ("5xx" in on and status >= 500)
        or ("gateway-error" in on and status in _GATEWAY_ERRORS)
        or ("retriable-status-codes" in on and status in policy.retriable_status_codes)
    )


def error_is_retriable(policy: RetryPolicy, exc: UpstreamError) -> bool:
    on = policy.retry_on
    if isinstance(exc, ConnectFailed):
        return "connect-failure" in on or "5xx" in on or "gateway-error" in on
    if isinstance(exc, UpstreamTimeout):
        return "timeout" in on or "5xx" in on or "gateway-error" in on
    return "reset" in on or "5xx" in on or "gateway-error" in on


def retry_budget_allows(cluster: UpstreamCluster, policy: RetryPolicy) -> bool:
    """Envoy's max_retries threshold and the route's retry budget, both checked."""
    if not cluster.limits.try_acquire_retry():
        return False
    cluster.limits.release_retry()
    budget = policy.budget
    allowed = max(budget.min_concurrency, cluster.active_requests * budget.percent / 100)
    return cluster.active_retries < allowed
