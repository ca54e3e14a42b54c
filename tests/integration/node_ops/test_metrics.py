"""Exact metric values after a known sequence of requests, read through /metrics."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from zonegate import conventions as cv
from zonegate.config.loader import parse_config
from zonegate.node.ops.admin import AdminServer, AdminState
from zonegate.testing.ports import free_port

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Samples:
    out: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return out


def value(samples: Samples, name: str, **labels: str) -> float:
    full = {"node": "node-1", "zone": "zone-a", **labels}
    return samples.get((name, frozenset(full.items())), 0.0)


def config(app: str, flaky: str, dead: str) -> dict[str, Any]:
    return {
        "clusters": [
            {"name": "app", "endpoints": [{"address": app, "zone": "zone-a"}]},
            {"name": "flaky", "endpoints": [{"address": flaky, "zone": "zone-a"}]},
            {
                "name": "dead",
                "endpoints": [{"address": dead, "zone": "zone-a"}],
                "outlier_detection": {
                    "consecutive_local_failures": 1,
                    "max_ejection_percent": 100,
                },
            },
        ],
        "routes": [
            {
                "name": "api",
                "match": {"path": {"prefix": "/api/"}},
                "upstream": "app",
                "rewrite": {"strip_prefix": "/api"},
            },
            {
                "name": "flaky",
                "match": {"path": {"prefix": "/flaky/"}},
                "upstream": "flaky",
                "retry": {"retry_on": ["5xx"], "max_attempts": 2, "backoff": {"base_s": 0.001}},
            },
            {
                "name": "dead",
                "match": {"path": {"prefix": "/dead/"}},
                "upstream": "dead",
                "retry": {"max_attempts": 1},
            },
        ],
    }


async def test_metric_values_after_a_known_sequence(ops_node, backends) -> None:
    app, flaky = await backends("app"), await backends("flaky")
    flaky.state.fail_status = 503
    dead = f"127.0.0.1:{free_port()}"
    item = await ops_node(config(app.address, flaky.address, dead), revision=3)
    admin = AdminServer(AdminState(item.node, item.ops.registry, None, lambda: True))
    host, port = await admin.start("127.0.0.1", 0)
    try:
        async with aiohttp.ClientSession() as session:
            statuses = []
            for path in [
                "/api/echo",
                "/api/echo",
                "/api/echo",
                "/api/status/404",
                "/nothing",
                "/nothing",
                "/flaky/x",
                "/dead/x",
            ]:
                async with session.get(item.url(path)) as resp:
                    await resp.read()
                    statuses.append(resp.status)
            assert statuses == [200, 200, 200, 404, 404, 404, 503, 503]
            async with session.get(f"http://{host}:{port}{cv.ADMIN_METRICS}") as resp:
                assert resp.status == 200
                assert resp.headers["Content-Type"].startswith("text/plain")
                samples = parse(await resp.text())
    finally:
        await admin.stop()

    requests = cv.NODE_REQUESTS_TOTAL
    assert value(samples, requests, route="api", cluster="app", status_class="2xx") == 3
    assert value(samples, requests, route="api", cluster="app", status_class="4xx") == 1
    assert value(samples, requests, route="api", cluster="app", status_class="5xx") == 0
    assert value(samples, requests, route="", cluster="", status_class="4xx") == 2
    assert value(samples, requests, route="flaky", cluster="flaky", status_class="5xx") == 1
    assert value(samples, requests, route="dead", cluster="dead", status_class="5xx") == 1
    total = sum(v for (name, _), v in samples.items() if name == requests)
    assert total == 8

    duration = cv.NODE_REQUEST_DURATION
    assert value(samples, f"{duration}_count", route="api", cluster="app") == 4
    assert value(samples, f"{duration}_bucket", route="api", cluster="app", le="+Inf") == 4
    assert value(samples, f"{duration}_bucket", route="api", cluster="app", le="10.0") == 4

    assert value(samples, cv.UPSTREAM_RETRIES_TOTAL, route="flaky", cluster="flaky") == 1
    assert value(samples, cv.UPSTREAM_RETRIES_TOTAL, route="api", cluster="app") == 0
    assert flaky.state.hits == 2
    attempts = cv.UPSTREAM_ATTEMPTS_TOTAL
    assert value(samples, attempts, cluster="flaky", outcome="5xx") == 2
    assert value(samples, attempts, cluster="app", outcome="2xx") == 3
    assert value(samples, attempts, cluster="app", outcome="4xx") == 1
    assert value(samples, attempts, cluster="dead", outcome=cv.ERR_UPSTREAM_CONNECT) == 1
    upstream = cv.UPSTREAM_REQUEST_DURATION
    assert value(samples, f"{upstream}_count", cluster="app") == 4
    assert value(samples, f"{upstream}_count", cluster="flaky") == 2

    ejections = cv.UPSTREAM_EJECTIONS_TOTAL
    assert (
        value(samples, ejections, cluster="dead", host=dead, reason="consecutive_local_failures")
        == 1
    )
    assert value(samples, cv.UPSTREAM_HOST_EJECTED, cluster="dead", host=dead) == 1
    for cluster in ("app", "flaky", "dead"):
        state = cv.UPSTREAM_BREAKER_STATE
        assert value(samples, state, cluster=cluster, state="closed") == 1
        assert value(samples, state, cluster=cluster, state="open") == 0
    assert value(samples, cv.NODE_ACTIVE_REQUESTS) == 0
    assert value(samples, cv.CONFIG_REVISION) == 3
    assert value(samples, cv.NODE_DRAINING) == 0


async def test_revision_and_new_routes_follow_apply_config(ops_node, backends) -> None:
    app = await backends("app")
    document = {
        "clusters": [{"name": "app", "endpoints": [{"address": app.address}]}],
        "routes": [{"name": "one", "upstream": "app"}],
    }
    item = await ops_node(document, revision=1)
    renamed = {**document, "routes": [{"name": "two", "upstream": "app"}]}
    item.node.apply_config(parse_config({"version": 1, **renamed}), 2)
    async with aiohttp.ClientSession() as session, session.get(item.url("/echo")) as resp:
        assert resp.status == 200
    samples = parse(_render(item))
    requests = cv.NODE_REQUESTS_TOTAL
    assert value(samples, requests, route="two", cluster="app", status_class="2xx") == 1
    assert value(samples, requests, route="one", cluster="app", status_class="2xx") == 0
    assert value(samples, cv.CONFIG_REVISION) == 2


async def test_health_check_results_and_breaker_opening(ops_node, backends) -> None:
    app = await backends("app")
    document = {
        "clusters": [
            {
                "name": "app",
                "endpoints": [{"address": app.address}],
                "health_check": {"interval_s": 0.05, "fast_interval_s": 0.05, "jitter": 0},
                "outlier_detection": None,
                "circuit_breaker": {
                    "error_rate": {"min_requests": 4, "threshold": 0.5, "open_s": 30}
                },
            }
        ],
        "routes": [{"name": "all", "upstream": "app"}],
    }
    item = await ops_node(document)
    health = cv.UPSTREAM_HEALTH_CHECKS_TOTAL
    deadline = asyncio.get_running_loop().time() + 5
    while (
        value(parse(_render(item)), health, cluster="app", host=app.address, result="success") < 2
    ):
        assert asyncio.get_running_loop().time() < deadline, "no health checks seen"
        await asyncio.sleep(0.02)
    samples = parse(_render(item))
    assert value(samples, cv.UPSTREAM_HOST_HEALTHY, cluster="app", host=app.address) == 1

    async with aiohttp.ClientSession() as session:
        statuses = []
        for _ in range(5):
            async with session.get(item.url("/status/500")) as resp:
                statuses.append(resp.status)
    assert statuses[-1] == 503  # the breaker answered
    samples = parse(_render(item))
    state = cv.UPSTREAM_BREAKER_STATE
    assert value(samples, state, cluster="app", state="open") == 1
    assert value(samples, state, cluster="app", state="closed") == 0
    assert (
        value(samples, cv.NODE_REQUESTS_TOTAL, route="all", cluster="app", status_class="5xx") == 5
    )


def _render(item) -> str:
    from prometheus_client import generate_latest

    return generate_latest(item.ops.registry).decode()
