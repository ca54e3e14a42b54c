"""Traffic mirroring through a real node: copies are marked, counted, capped, and never
delay or fail the real request, even when the shadow hangs or errors."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families


def mirror_config(primary: str, shadow: str, **mirror: Any) -> dict[str, Any]:
    return {
        "clusters": [
            {"name": "orders", "endpoints": [{"address": primary, "zone": "zone-a"}]},
            {
                "name": "orders-shadow",
                "endpoints": [{"address": shadow, "zone": "zone-a"}],
                "outlier_detection": None,
                "circuit_breaker": {"error_rate": {"enabled": False}},
            },
        ],
        "routes": [
            {
                "name": "mirrored",
                "match": {"path": {"prefix": "/m"}},
                "upstream": "orders",
                "mirror": {"cluster": "orders-shadow", **mirror},
            },
            {"name": "plain", "upstream": "orders"},
        ],
    }


def mirror_counts(node) -> dict[str, float]:
    text = generate_latest(node.ops.registry).decode()
    return {
        sample.labels["outcome"]: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "zonegate_mirror_requests_total"
        and sample.labels["route"] == "mirrored"
        and sample.labels["cluster"] == "orders-shadow"
    }


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_copies_are_marked_counted_and_carry_the_body(gateway, backends, load) -> None:
    primary, shadow = await backends("primary"), await backends("shadow")
    node = await gateway(mirror_config(primary.address, shadow.address, max_body_bytes=1000))
    gets = await load(node, 20, path="/m/echo", concurrency=2)
    posts = await load(node, 10, path="/m/echo", method="POST", body=b"x" * 100, concurrency=2)
    big = await load(node, 3, path="/m/echo", method="POST", body=b"y" * 5000, concurrency=1)
    assert all(r.status == 200 for r in gets.responses + posts.responses + big.responses)
    assert all(b'"backend": "primary"' in r.body for r in gets.responses)
    assert "x-zonegate-shadow" not in str(primary.state.seen_headers).lower()
    assert await node.node.proxy.shadow.wait_idle(5.0)
    assert shadow.state.hits == 30
    marked = [{k.lower(): v for k, v in h.items()} for h in shadow.state.seen_headers]
    assert all(h["x-zonegate-shadow"] == "1" for h in marked)
    assert sum(h.get("content-length") == "100" for h in marked) == 10
    assert mirror_counts(node) == {"2xx": 30.0, "skipped_body": 3.0}


async def test_percentage_is_exact(gateway, backends, load) -> None:
    primary, shadow = await backends("primary"), await backends("shadow")
    node = await gateway(mirror_config(primary.address, shadow.address, percent=25))
    await load(node, 200, path="/m/echo", concurrency=4)
    assert await node.node.proxy.shadow.wait_idle(5.0)
    assert shadow.state.hits == 50
    assert primary.state.hits == 200


async def test_hanging_shadow_never_delays_or_fails_the_real_request(
    gateway, fast_backends, silent_server, load
) -> None:
    primary = await fast_backends("primary")
    config = mirror_config(primary.address, silent_server.address, max_concurrent=8, timeout_s=30)
    node = await gateway(config)
    await load(node, 200, path="/plain", concurrency=4)  # warm up pools
    without: list[float] = []
    with_shadow: list[float] = []
    rounds, per_round = 10, 200
    for _ in range(rounds):  # interleaved, so machine noise hits both alike
        plain = await load(node, per_round, path="/plain", concurrency=4)
        mirrored = await load(node, per_round, path="/m/x", concurrency=4)
        assert [r.status for r in plain.responses + mirrored.responses] == [200] * 2 * per_round
        without += plain.latencies
        with_shadow += mirrored.latencies
    n = rounds * per_round
    base, p99 = _p(without, 0.99), _p(with_shadow, 0.99)
    print(
        f"\np99 without a shadow {base * 1000:.2f} ms, with a hanging shadow {p99 * 1000:.2f} ms"
        f" (p50 {_p(without, 0.5) * 1000:.2f} / {_p(with_shadow, 0.5) * 1000:.2f} ms, "
        f"{n} requests each)"
    )
    assert p99 <= base * 2 + 0.010
    assert max(with_shadow) < 5.0  # nobody waited for the 30 s shadow timeout
    counts = mirror_counts(node)
    assert counts.get("skipped_concurrency", 0) == n - 8  # at most 8 copies hang at a time
    assert silent_server.connections == 8
    assert node.node.proxy.shadow.in_flight["mirrored"] == 8


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def test_failing_shadows_are_counted_and_harmless(gateway, backends, load) -> None:
    primary, erroring = await backends("primary"), await backends("shadow")
    erroring.state.fail_status = 500
    for shadow, outcome in (
        (erroring.address, "5xx"),
        (f"127.0.0.1:{closed_port()}", "upstream_connect_failed"),
    ):
        node = await gateway(mirror_config(primary.address, shadow))
        result = await load(node, 30, path="/m/echo", concurrency=3)
        assert [r.status for r in result.responses] == [200] * 30
        assert await node.node.proxy.shadow.wait_idle(5.0)
        assert mirror_counts(node) == {outcome: 30.0}


async def test_shadow_timeout_abandons_the_copy(
    gateway, fast_backends, silent_server, load
) -> None:
    primary = await fast_backends("primary")
    node = await gateway(mirror_config(primary.address, silent_server.address, timeout_s=0.2))
    result = await load(node, 5, path="/m/x", concurrency=1)
    assert [r.status for r in result.responses] == [200] * 5
    assert await node.node.proxy.shadow.wait_idle(5.0)
    assert mirror_counts(node) == {"upstream_timeout": 5.0}
    await asyncio.sleep(0)
