"""Weighted and canary routing through a real node: exact splits, stickiness, targeting,
live weight changes and per-version metrics."""

from __future__ import annotations

from collections import Counter
from typing import Any

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from zonegate.config.loader import parse_config
from zonegate.testing.http1 import Http1Client


def split_config(v1: str, v2: str, weights: tuple[int, int], **route: Any) -> dict[str, Any]:
    return {
        "clusters": [
            {"name": "orders-v1", "endpoints": [{"address": v1, "zone": "zone-a"}]},
            {"name": "orders-v2", "endpoints": [{"address": v2, "zone": "zone-a"}]},
        ],
        "routes": [
            {
                "name": "orders",
                "upstream": "orders-v1",
                "split": {
                    "clusters": [
                        {"cluster": "orders-v1", "weight": weights[0], "version": "1"},
                        {"cluster": "orders-v2", "weight": weights[1], "version": "2"},
                    ],
                    **route.pop("split_extra", {}),
                },
                **route,
            }
        ],
    }


async def test_split_is_exact_over_10000_requests(gateway, fast_backends, load) -> None:
    v1, v2 = await fast_backends("v1"), await fast_backends("v2")
    node = await gateway(split_config(v1.address, v2.address, (95, 5)))
    result = await load(node, 10_000, concurrency=8)
    assert [r.status for r in result.responses] == [200] * 10_000
    answered = Counter(_backend(r.body) for r in result.responses)
    assert answered == {"v1": v1.hits, "v2": v2.hits}
    share = v2.hits / 10_000
    print(f"\nsplit 95/5 over 10000 requests: v1={v1.hits} v2={v2.hits}")
    assert abs(share - 0.05) <= 0.01
    assert abs(v2.hits - 500) <= 5  # smooth weighting is exact, not just close


async def test_per_version_metrics_compare_canary_and_stable(gateway, backends, load) -> None:
    v1, v2 = await backends("v1"), await backends("v2")
    node = await gateway(split_config(v1.address, v2.address, (3, 1)))
    await load(node, 400, concurrency=4)
    by_cluster = {
        sample.labels["cluster"]: sample.value
        for family in text_string_to_metric_families(generate_latest(node.ops.registry).decode())
        for sample in family.samples
        if sample.name == "zonegate_http_requests_total"
        and sample.labels["route"] == "orders"
        and sample.labels["status_class"] == "2xx"
    }
    assert by_cluster == {"orders-v1": 300.0, "orders-v2": 100.0}


async def test_sticky_clients_stay_on_one_version(gateway, fast_backends, load) -> None:
    v1, v2 = await fast_backends("v1"), await fast_backends("v2")
    config = split_config(
        v1.address, v2.address, (80, 20), split_extra={"sticky": {"header": "X-User"}}
    )
    node = await gateway(config)
    users = 300
    result = await load(
        node, users * 5, path="/echo", concurrency=6, headers=lambda i: {"x-user": f"u{i % users}"}
    )
    seen: dict[str, set[str]] = {}
    for i, resp in enumerate(result.responses):
        assert resp.status == 200
        seen.setdefault(f"u{i % users}", set()).add(_backend(resp.body))
    assert all(len(versions) == 1 for versions in seen.values())
    on_v2 = sum(versions == {"v2"} for versions in seen.values())
    assert 0.12 <= on_v2 / users <= 0.28


async def test_cookie_stickiness_and_its_absence(gateway, backends) -> None:
    v1, v2 = await backends("v1"), await backends("v2")
    config = split_config(v1.address, v2.address, (1, 1), split_extra={"sticky": {"cookie": "sid"}})
    node = await gateway(config)
    client = Http1Client(*node.host_port)
    try:
        pinned = {
            _backend((await client.request("GET", "/echo", {"cookie": "a=b; sid=42"})).body)
            for _ in range(20)
        }
        alternating = [_backend((await client.request("GET", "/echo")).body) for _ in range(20)]
    finally:
        await client.close()
    assert len(pinned) == 1
    assert Counter(alternating) == {"v1": 10, "v2": 10}


async def test_header_targeted_canary_and_dark_launch(gateway, backends, load) -> None:
    v1, v2 = await backends("v1"), await backends("v2")
    config = split_config(
        v1.address,
        v2.address,
        (100, 0),  # a dark launch: no weighted traffic at all
        canary=[
            {
                "name": "testers",
                "cluster": "orders-v2",
                "header": {"name": "x-canary", "exact": "on"},
            },
            {"name": "beta", "cluster": "orders-v2", "cookie": {"name": "beta"}},
        ],
    )
    node = await gateway(config)

    def headers(i: int) -> dict[str, str]:
        if i % 3 == 0:
            return {"x-canary": "on"}
        if i % 3 == 1:
            return {"cookie": "theme=dark; beta=1"}
        return {"x-canary": "off"}

    result = await load(node, 300, headers=headers, concurrency=4)
    for i, resp in enumerate(result.responses):
        assert resp.status == 200
        assert _backend(resp.body) == ("v1" if i % 3 == 2 else "v2"), i
    # the same on the coroutine path (requests with a body)
    post = await load(node, 30, method="POST", body=b"{}", headers=headers, concurrency=2)
    assert [_backend(r.body) for r in post.responses] == ["v2", "v2", "v1"] * 10


async def test_weights_change_live(gateway, backends, load) -> None:
    v1, v2 = await backends("v1"), await backends("v2")
    node = await gateway(split_config(v1.address, v2.address, (9, 1)))
    await load(node, 100, concurrency=2)
    assert (v1.state.hits, v2.state.hits) == (90, 10)
    document = {"version": 1, **split_config(v1.address, v2.address, (1, 1))}
    node.node.apply_config(parse_config(document), 2)
    await load(node, 100, concurrency=2)
    assert (v1.state.hits, v2.state.hits) == (140, 60)


def _backend(body: bytes) -> str:
    import json

    return str(json.loads(body)["backend"])
