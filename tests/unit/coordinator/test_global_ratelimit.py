"""GlobalRateLimits without etcd: key segments, backends per (route, spec), live nodes."""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry

from zonegate.coordinator.global_ratelimit import GlobalRateLimits
from zonegate.coordinator.keys import Keys, segment
from zonegate.coordinator.ratelimit_keys import limit_segment, node_segment, window_ms_of
from zonegate.coordinator.records import NODE_DRAINING, NodeInfo
from zonegate.node.policy.decision import LimitSpec
from zonegate.node.policy.limiter import LocalRateLimiter

SPEC = LimitSpec("global", "sliding_window", 30, 1.0, 30, 100, "cluster")


def limits() -> GlobalRateLimits:
    return GlobalRateLimits(
        Keys("c"), "n1", "zone-a", registry=CollectorRegistry(), clock=lambda: 1_700_000_000.5
    )


def test_key_segments_stay_valid_whatever_the_names() -> None:
    assert limit_segment("orders", "per-consumer", 1000) == "orders:per-consumer:1000"
    long = limit_segment("r" * 63, "l" * 63, 86_400_000)
    assert long.endswith(":86400000") and len(long) <= 128
    assert window_ms_of(long) == 86_400_000
    assert window_ms_of("no-window") is None
    assert node_segment("node-1", "zone-a") == "node-1@zone-a"
    odd = node_segment("host with spaces/and slashes", "zone-a")
    assert segment(odd) == odd
    assert odd != node_segment("another host", "zone-a")


def test_one_backend_per_route_and_spec_sharing_counts_across_limit_changes() -> None:
    gl = limits()
    local = LocalRateLimiter(SPEC, time.monotonic)
    first = gl.backend("api", SPEC, local)
    assert gl.backend("api", SPEC, local) is first
    raised = LimitSpec("global", "sliding_window", 60, 1.0, 60, 100, "cluster")
    second = gl.backend("api", raised, local)
    assert second is not first
    assert sum(first.hit("k").allowed for _ in range(20)) == 20
    # same window: the counts carry over to the raised limit
    assert sum(second.hit("k").allowed for _ in range(60)) == 40
    assert gl.backend("other", SPEC, local) is not first


def test_without_etcd_each_node_keeps_to_its_share_of_the_live_nodes() -> None:
    gl = limits()
    backend = gl.backend("api", SPEC, LocalRateLimiter(SPEC, time.monotonic))
    assert not gl.shared and gl.live_nodes == 1
    gl._nodes_changed(
        {
            "zone-a/n1": NodeInfo("n1", "zone-a", "h:1"),
            "zone-b/n2": NodeInfo("n2", "zone-b", "h:2"),
            "zone-c/n3": NodeInfo("n3", "zone-c", "h:3"),
            "zone-c/n4": NodeInfo("n4", "zone-c", "h:4", state=NODE_DRAINING),
        }
    )
    assert gl.live_nodes == 3  # draining nodes do not count
    assert gl.share(30) == 10
    assert sum(backend.hit("k").allowed for _ in range(30)) == 10
    gl._nodes_changed({"zone-b/n2": NodeInfo("n2", "zone-b", "h:2")})
    assert gl.live_nodes == 2  # itself, even when its registration is gone
    assert gl.status()["limits"]["api:global:1000"]["own_current"] == 10
