"""Policy filter counters land in the node's registry."""

from __future__ import annotations

from prometheus_client import generate_latest

from zonegate import conventions as cv
from zonegate.node.filters.policy_deps import PolicyObserver
from zonegate.node.ops.metrics import NodeMetrics
from zonegate.node.ops.policy_metrics import PolicyMetrics


def test_policy_counters() -> None:
    metrics = NodeMetrics("n1", "za")
    observer: PolicyObserver = PolicyMetrics(metrics)
    observer.auth_failed("orders", "api_key", "wrong_secret")
    observer.auth_failed("orders", "api_key", "wrong_secret")
    observer.rate_limit_decision("orders", "per-client", "limited")
    observer.composition_call("dash", "user", "ok", 0.003)
    text = generate_latest(metrics.registry).decode()
    assert (
        f'{cv.AUTH_FAILURES_TOTAL}{{method="api_key",node="n1",reason="wrong_secret",'
        'route="orders",zone="za"} 2.0'
    ) in text
    assert (
        f'{cv.RATE_LIMIT_DECISIONS_TOTAL}{{decision="limited",limit="per-client",node="n1",'
        'route="orders",zone="za"} 1.0'
    ) in text
    assert (
        f'{cv.COMPOSITION_CALLS_TOTAL}{{call="user",node="n1",outcome="ok",route="dash",'
        'zone="za"} 1.0'
    ) in text
    assert (
        f'{cv.COMPOSITION_CALL_DURATION}_bucket{{call="user",le="0.005",node="n1",route="dash",'
        'zone="za"} 1.0'
    ) in text
