"""The GLB in front of real servers standing in for gateway nodes: failover, failback,
passive detection, retries, stickiness. (Whole-cluster drills live in tests/e2e.)"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import uvloop

from zonegate.config.loader import parse_config
from zonegate.glb.main import Glb, GlbOptions
from zonegate.testing.backend import TestBackend


def pytest_asyncio_loop_factories(config: object, item: object) -> dict[str, object]:
    return {"uvloop": uvloop.new_event_loop}


def glb_config(zones: dict[str, list[TestBackend]], **glb: Any) -> dict[str, Any]:
    return {
        "version": 1,
        "cluster": "test",
        "zones": [
            {
                "name": zone,
                "region": "eu" if zone != "c" else "us",
                "static_nodes": [
                    {"id": f"{zone}-{i}", "address": b.address, "admin": b.address}
                    for i, b in enumerate(nodes)
                ],
            }
            for zone, nodes in zones.items()
        ],
        "regions": [
            {"name": "eu", "zones": ["a", "b", "c"]},
            {"name": "us", "zones": ["c", "a", "b"]},
        ],
        "glb": {
            "default_region": "eu",
            "health_check": {"path": "/healthz", "interval_s": 0.2, "fast_interval_s": 0.05},
            "failback_hold_down_s": 1.0,
            "failback_ramp_s": 0.5,
            **glb,
        },
    }


@pytest.fixture
async def cluster() -> AsyncIterator[tuple[dict[str, list[TestBackend]], Any]]:
    zones = {
        "a": [await TestBackend("a-0").start(), await TestBackend("a-1").start()],
        "b": [await TestBackend("b-0").start()],
        "c": [await TestBackend("c-0").start()],
    }
    glbs: list[Glb] = []

    async def make(**glb: Any) -> Glb:
        config = parse_config(glb_config(zones, **glb))
        g = Glb(config, GlbOptions("glb-test", "127.0.0.1", 0, "127.0.0.1", 0))
        await g.start()
        glbs.append(g)
        return g

    yield zones, make
    for g in glbs:
        await g.stop()
    for nodes in zones.values():
        for b in nodes:
            await b.stop()


def url(glb: Glb, path: str = "/echo") -> str:
    assert glb.address is not None
    return f"http://127.0.0.1:{glb.address[1]}{path}"


async def served_by(session: aiohttp.ClientSession, glb: Glb, **kw: Any) -> tuple[int, str]:
    async with session.get(url(glb), **kw) as resp:
        body = await resp.json(content_type=None)
        return resp.status, body.get("backend", "") if isinstance(body, dict) else ""


async def test_region_preference_and_failover_on_node_and_zone_kill(cluster) -> None:
    zones, make = cluster
    glb = await make()
    async with aiohttp.ClientSession() as session:
        eu = [await served_by(session, glb) for _ in range(20)]
        assert {b for _, b in eu} == {"a-0", "a-1"}
        us = [await served_by(session, glb, headers={"X-Client-Region": "us"}) for _ in range(5)]
        assert {b for _, b in us} == {"c-0"}
        # Kill one node: the next request that meets it is retried elsewhere; no errors.
        await zones["a"][0].stop()
        results = [await served_by(session, glb) for _ in range(20)]
        assert all(status == 200 for status, _ in results)
        # Half of zone a is healthy: with the 1.4 factor a keeps 70%, 30% spills to b.
        assert {b for _, b in results} <= {"a-1", "b-0"}
        assert sum(b == "a-1" for _, b in results) >= 8
        # Kill the whole zone: traffic fails over to zone b without a client error.
        await zones["a"][1].stop()
        killed = time.monotonic()
        results = [await served_by(session, glb) for _ in range(20)]
        assert all(status == 200 for status, _ in results), results
        assert {b for _, b in results} == {"b-0"}
        assert time.monotonic() - killed < 1.5
        status = glb.proxy.selector.transitions[-1]
        assert status.zone == "a"


async def test_failback_waits_for_hold_down(cluster) -> None:
    zones, make = cluster
    glb = await make()
    ports = [b.port for b in zones["a"]]
    for b in zones["a"]:
        await b.stop()
    async with aiohttp.ClientSession() as session:
        results = [await served_by(session, glb) for _ in range(5)]
        assert {b for _, b in results} == {"b-0"}
        for b, port in zip(zones["a"], ports, strict=True):
            await b.start(port)
        back = time.monotonic()
        # Health checks see zone a again, but traffic stays on b during the hold-down.
        while glb.proxy.selector.effective_health("a") == 0 and time.monotonic() - back < 5:
            status, backend = await served_by(session, glb)
            assert status == 200
            if time.monotonic() - back < 0.9:
                assert backend == "b-0"
            await asyncio.sleep(0.05)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            _, backend = await served_by(session, glb)
            if backend.startswith("a-") and glb.proxy.selector.effective_health("a") == 1:
                break
            await asyncio.sleep(0.05)
        assert time.monotonic() - back >= 1.0, "failback before the hold-down"
        results = [await served_by(session, glb) for _ in range(10)]
        assert {b for _, b in results} <= {"a-0", "a-1"}
        events = [t.event for t in glb.proxy.selector.transitions if t.zone == "a"]
        assert events[-2:] == ["recovering", "restored"]


async def test_sticky_cookie_repins_on_failure(cluster) -> None:
    zones, make = cluster
    glb = await make(sticky={"enabled": True})
    async with aiohttp.ClientSession() as session:
        async with session.get(url(glb)) as resp:
            cookie = resp.cookies["zg_affinity"].value
        assert "~a~" in cookie
        for b in zones["a"]:
            await b.stop()
        jar_cookie = {"zg_affinity": cookie}
        async with aiohttp.ClientSession(cookies=jar_cookie) as pinned:
            async with pinned.get(url(glb)) as resp:
                assert resp.status == 200
                assert "~b~" in resp.cookies["zg_affinity"].value
        async with aiohttp.ClientSession(cookies={"zg_affinity": "test~c~~forged"}) as forged:
            async with forged.get(url(glb)) as resp:
                assert resp.status == 200  # an invalid cookie is ignored, not an error


async def test_non_idempotent_request_is_not_retried_after_it_was_sent(cluster) -> None:
    zones, make = cluster
    glb = await make()
    zones["a"][0].state.fail_status = None
    async with aiohttp.ClientSession() as session:
        # POST to a node that resets after reading: not repeated elsewhere.
        async with session.post(url(glb, "/reset"), data=b"x") as resp:
            assert resp.status == 502
        hits = sum(b.state.hits for b in zones["b"])
        assert hits == 0
        # GET /reset is idempotent: retried on the other nodes until one answers (all reset).
        async with session.get(url(glb, "/reset")) as resp:
            assert resp.status in {502, 503}


async def test_draining_node_answer_takes_it_out_and_request_is_retried(cluster) -> None:
    zones, make = cluster
    glb = await make()
    drainer = zones["a"][0]
    drainer.state.fail_status = 503
    drainer.state.extra_headers = {"X-Zonegate-Draining": "1"}
    drainer.state.healthy = False  # a draining node's readiness also says 503
    async with aiohttp.ClientSession() as session:
        results = [await served_by(session, glb) for _ in range(10)]
    assert all(status == 200 for status, _ in results)
    assert drainer.state.hits == 1
    assert not glb.membership.hosts["a-0"].health_ok
