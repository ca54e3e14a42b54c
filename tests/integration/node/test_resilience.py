"""Retries, timeouts, outlier ejection, circuit breaking and zone-aware spill over real sockets."""

from __future__ import annotations

import asyncio
import time

import aiohttp

from zonegate.testing.gateway import simple_config, url
from zonegate.testing.ports import free_port


async def get(session: aiohttp.ClientSession, address: str) -> tuple[int, dict[str, object]]:
    async with session.get(address) as resp:
        body = await resp.read()
        try:
            import json

            return resp.status, json.loads(body)
        except ValueError:
            return resp.status, {}


async def test_connect_failure_is_retried_on_another_host(gateway, backends) -> None:
    good = await backends("good")
    dead = f"127.0.0.1:{free_port()}"
    config = simple_config(dead, good.address)
    config["clusters"][0]["lb"] = {"policy": "round_robin"}
    node = await gateway(config)
    async with aiohttp.ClientSession() as session:
        results = [await get(session, url(node, "/echo")) for _ in range(10)]
    assert [status for status, _ in results] == [200] * 10
    assert good.state.hits == 10


async def test_5xx_retried_only_when_policy_says_and_method_idempotent(gateway, backends) -> None:
    bad = await backends("bad")
    bad.state.fail_status = 503
    good = await backends("good")
    config = simple_config(
        bad.address,
        good.address,
        retry={"retry_on": ["5xx"], "max_attempts": 2, "backoff": {"base_s": 0.001}},
    )
    config["clusters"][0]["lb"] = {"policy": "round_robin"}
    config["clusters"][0]["outlier_detection"] = None
    config["clusters"][0]["circuit_breaker"] = {"error_rate": {"enabled": False}}
    node = await gateway(config)
    async with aiohttp.ClientSession() as session:
        for _ in range(6):
            status, _ = await get(session, url(node, "/echo"))
            assert status == 200
        # POST is not idempotent: a 503 passes straight through, no retry.
        statuses = []
        for _ in range(4):
            async with session.post(url(node, "/echo"), data=b"x") as resp:
                statuses.append(resp.status)
    assert 503 in statuses


async def test_upstream_timeout_answers_504(gateway, backends) -> None:
    slow = await backends("slow")
    node = await gateway(simple_config(slow.address, timeout_s=0.2))
    async with aiohttp.ClientSession() as session:
        started = time.monotonic()
        status, body = await get(session, url(node, "/delay/2000"))
        elapsed = time.monotonic() - started
    assert status == 504
    assert body["error"]["code"] == "upstream_timeout"  # type: ignore[index]
    assert elapsed < 1.5


async def test_per_try_timeout_retries_on_next_host(gateway, backends) -> None:
    slow = await backends("slow")
    slow.state.delay_s = 2.0
    fast = await backends("fast")
    config = simple_config(
        slow.address,
        fast.address,
        timeout_s=3,
        retry={"retry_on": ["timeout"], "max_attempts": 2, "per_try_timeout_s": 0.2},
    )
    config["clusters"][0]["lb"] = {"policy": "round_robin"}
    node = await gateway(config)
    async with aiohttp.ClientSession() as session:
        results = [await get(session, url(node, "/echo")) for _ in range(4)]
    assert all(status == 200 for status, _ in results)
    assert all(body["backend"] == "fast" for _, body in results)


async def test_dead_upstream_answers_503_with_stable_code(gateway) -> None:
    node = await gateway(simple_config(f"127.0.0.1:{free_port()}"))
    async with aiohttp.ClientSession() as session:
        status, body = await get(session, url(node, "/echo"))
    assert status == 503
    assert body["error"]["code"] in {"upstream_connect_failed", "upstream_unavailable"}  # type: ignore[index]


async def test_reset_by_upstream_answers_502(gateway, backends) -> None:
    backend = await backends()
    config = simple_config(backend.address, retry={"retry_on": [], "max_attempts": 1})
    node = await gateway(config)
    async with aiohttp.ClientSession() as session:
        status, body = await get(session, url(node, "/reset"))
    assert status == 502
    assert body["error"]["code"] == "upstream_reset"  # type: ignore[index]


async def test_outlier_ejection_and_return(gateway, backends) -> None:
    flaky = await backends("flaky")
    flaky.state.fail_status = 500
    good = await backends("good")
    config = simple_config(flaky.address, good.address, retry={"retry_on": [], "max_attempts": 1})
    cluster = config["clusters"][0]
    cluster["lb"] = {"policy": "round_robin"}
    cluster["outlier_detection"] = {
        "consecutive_5xx": 2,
        "base_ejection_s": 0.5,
        "max_ejection_percent": 50,
    }
    cluster["circuit_breaker"] = {"error_rate": {"enabled": False}}
    node = await gateway(config)
    async with aiohttp.ClientSession() as session:
        for _ in range(6):
            await get(session, url(node, "/echo"))
        hits_at_ejection = flaky.state.hits
        assert hits_at_ejection == 2
        results = [await get(session, url(node, "/echo")) for _ in range(6)]
        assert all(status == 200 for status, _ in results)
        assert flaky.state.hits == hits_at_ejection
        flaky.state.fail_status = None
        deadline = time.monotonic() + 5
        while flaky.state.hits == hits_at_ejection and time.monotonic() < deadline:
            await get(session, url(node, "/echo"))
            await asyncio.sleep(0.05)
    assert flaky.state.hits > hits_at_ejection, "ejected host never came back"


async def test_circuit_breaker_opens_half_opens_and_closes(gateway, backends) -> None:
    backend = await backends()
    backend.state.fail_status = 500
    config = simple_config(backend.address, retry={"retry_on": [], "max_attempts": 1})
    config["clusters"][0]["outlier_detection"] = None
    config["clusters"][0]["circuit_breaker"] = {
        "error_rate": {
            "threshold": 0.5,
            "min_requests": 4,
            "window_s": 10,
            "open_s": 0.3,
            "half_open_requests": 1,
        }
    }
    node = await gateway(config)
    async with aiohttp.ClientSession() as session:
        for _ in range(4):
            status, _ = await get(session, url(node, "/echo"))
            assert status == 500
        status, body = await get(session, url(node, "/echo"))
        assert status == 503
        assert body["error"]["code"] == "circuit_open"  # type: ignore[index]
        hits = backend.state.hits
        backend.state.fail_status = None
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            status, _ = await get(session, url(node, "/echo"))
            if status == 200:
                break
            await asyncio.sleep(0.05)
        assert status == 200
        assert backend.state.hits == hits + 1
        results = [await get(session, url(node, "/echo")) for _ in range(5)]
    assert all(s == 200 for s, _ in results)


async def test_zone_aware_prefers_local_then_spills(gateway, backends) -> None:
    local = [await backends(f"local{i}") for i in range(2)]
    remote = await backends("remote")
    config = {
        "clusters": [
            {
                "name": "app",
                "endpoints": [
                    {"address": local[0].address, "zone": "zone-a"},
                    {"address": local[1].address, "zone": "zone-a"},
                    {"address": remote.address, "zone": "zone-b"},
                ],
                "health_check": {
                    "path": "/healthz",
                    "interval_s": 0.1,
                    "fast_interval_s": 0.05,
                    "timeout_s": 0.5,
                    "unhealthy_threshold": 1,
                    "healthy_threshold": 1,
                },
                "zone_aware": {"panic_threshold": 0.2},
            }
        ],
        "routes": [{"name": "all", "upstream": "app"}],
    }
    node = await gateway(config, zone="zone-a")
    async with aiohttp.ClientSession() as session:
        for _ in range(20):
            await get(session, url(node, "/echo"))
        assert remote.state.hits == 0
        # Both local hosts fail their health checks: all traffic spills to zone-b.
        for backend in local:
            backend.state.healthy = False
        cluster = node.snapshot.clusters["app"]
        deadline = time.monotonic() + 5
        while any(h.health_ok for h in cluster.hosts if h.zone == "zone-a"):
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)
        before = remote.state.hits
        for _ in range(10):
            status, _ = await get(session, url(node, "/echo"))
            assert status == 200
        assert remote.state.hits - before == 10


async def test_panic_mode_uses_every_host_when_too_few_are_healthy(gateway, backends) -> None:
    hosts = [await backends(f"b{i}") for i in range(3)]
    config = simple_config(*[b.address for b in hosts])
    config["clusters"][0]["health_check"] = {
        "path": "/healthz",
        "interval_s": 0.1,
        "fast_interval_s": 0.05,
        "unhealthy_threshold": 1,
    }
    config["clusters"][0]["lb"] = {"policy": "round_robin"}
    node = await gateway(config)
    for backend in hosts[:2]:
        backend.state.healthy = False  # 1 of 3 healthy: below the 50% panic threshold
    cluster = node.snapshot.clusters["app"]
    deadline = time.monotonic() + 5
    while sum(h.health_ok for h in cluster.hosts) != 1:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)
    async with aiohttp.ClientSession() as session:
        for _ in range(30):
            status, _ = await get(session, url(node, "/echo"))
            assert status == 200
    # Panic routing spreads over all hosts, healthy or not (Envoy semantics).
    assert all(b.state.hits > 0 for b in hosts)
