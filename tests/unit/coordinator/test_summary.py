"""The leader's cluster summary and its stale-key rules."""

from __future__ import annotations

from zonegate.coordinator.records import NODE_DRAINING, NodeInfo, ServiceEndpoint
from zonegate.coordinator.summary import (
    build_summary,
    counts,
    stale_event_keys,
    stale_ratelimit_keys,
)


def test_summary_counts_zones_and_convergence() -> None:
    nodes = [
        NodeInfo("a1", "a", "h:1", config_revision=7),
        NodeInfo("a2", "a", "h:2", config_revision=7, state=NODE_DRAINING),
        NodeInfo("b1", "b", "h:3", config_revision=5),
    ]
    services = [
        ServiceEndpoint("api", "a", "1", "x:1"),
        ServiceEndpoint("api", "a", "2", "x:2"),
        ServiceEndpoint("api", "b", "3", "x:3"),
    ]
    summary = build_summary(
        nodes, services, config_revision=7, leader="a1", fencing_token=3, now=10.0
    )
    assert summary["zones"]["a"] == {
        "nodes": 2,
        "serving": 1,
        "config_revisions": {"7": 2},
        "converged": True,
    }
    assert summary["zones"]["b"]["converged"] is False
    assert summary["converged"] is False
    assert summary["services"] == {"api": {"a": 2, "b": 1}}
    assert counts(summary) == (3, 2)
    empty = build_summary([], [], config_revision=0, leader="", fencing_token=0, now=0)
    assert empty["converged"] is True and empty["zones"] == {}


def test_stale_events_by_age_and_count() -> None:
    prefix = "/z/c/events/"
    keys = [f"{prefix}{ms:015d}" for ms in (1000, 5000, 9000, 9500)] + [prefix + "junk"]
    assert stale_event_keys(keys, prefix, now_ms=10_000, retention_ms=6000, keep_max=10) == [
        f"{prefix}{1000:015d}"
    ]
    assert stale_event_keys(keys, prefix, now_ms=10_000, retention_ms=10**9, keep_max=2) == [
        f"{prefix}{5000:015d}",
        f"{prefix}{1000:015d}",
    ]


def test_stale_ratelimit_windows() -> None:
    prefix = "/z/c/ratelimit/"
    keys = [prefix + "api/1000/n1", prefix + "api/59000/n1", prefix + "api/x/n1", prefix + "bad"]
    assert stale_ratelimit_keys(keys, prefix, now_ms=62_000, grace_ms=60_000) == [
        prefix + "api/1000/n1"
    ]


def test_stale_ratelimit_windows_keep_two_windows_of_the_global_limiter() -> None:
    prefix = "/z/c/ratelimit/"
    hour = 3_600_000
    keys = [
        prefix + f"api:per-consumer:{hour}/{10 * hour}/n1",  # the previous window: in use
        prefix + f"api:per-consumer:{hour}/{9 * hour}/n1",  # slid out two windows ago
        prefix + "api:per-consumer:1000/" + str(11 * hour - 61_000) + "/n1",
    ]
    now = 11 * hour + hour // 2
    assert stale_ratelimit_keys(keys, prefix, now_ms=now, grace_ms=60_000) == keys[1:]
