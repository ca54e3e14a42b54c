"""Actions over real sockets: toxics and link faults through the Toxiproxy API of zonegate's
fault proxy, HTTP actions and probes, and the drill annotation in a real etcd."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from zonegate.chaos.actions import run_action
from zonegate.chaos.annotate import write_annotation
from zonegate.chaos.context import DrillContext
from zonegate.chaos.environment import DrillEnvironment
from zonegate.chaos.errors import ActionFailed
from zonegate.chaos.faultproxy import FaultProxyServer, ProxySpec
from zonegate.chaos.probes import run_probe
from zonegate.chaos.spec.experiment import Experiment
from zonegate.coordinator.client import EtcdClient
from zonegate.coordinator.keys import Keys
from zonegate.slo.discovery import etcd_annotations
from zonegate.testing.backend import TestBackend


def action(spec: dict[str, Any]) -> Any:
    experiment = Experiment.model_validate({"title": "t", "method": [{"action": spec}]})
    return experiment.method[0].action


def probe(spec: dict[str, Any]) -> Any:
    experiment = Experiment.model_validate({"title": "t", "method": [{"probe": spec}]})
    return experiment.method[0].probe


@pytest.fixture
async def setup() -> AsyncIterator[tuple[DrillContext, FaultProxyServer, dict[str, str]]]:
    backend = await TestBackend("a-1").start()
    server = FaultProxyServer(port=0)
    await server.start()
    listen: dict[str, str] = {}
    for name in ("glb:a:a-1", "glb:a:a-1:admin", "glb:b:b-1"):
        proxy = await server.registry.create_proxy(ProxySpec(name, "127.0.0.1:0", backend.address))
        listen[name] = proxy.listen
    session = aiohttp.ClientSession()
    env = DrillEnvironment(glb_urls=[f"http://{backend.address}"], toxiproxy_url=server.url)
    try:
        yield DrillContext(env, session), server, listen
    finally:
        await session.close()
        await server.stop()
        await backend.stop()


async def timed_get(session: aiohttp.ClientSession, address: str) -> tuple[int, float]:
    began = time.monotonic()
    async with session.get(f"http://{address}/echo") as response:
        await response.read()
        return response.status, time.monotonic() - began


async def test_toxics_on_a_link_reach_every_proxy_of_it_and_only_those(setup) -> None:
    ctx, server, listen = setup
    add = action(
        {"kind": "toxic_add", "link": "glb:a", "type": "latency", "attributes": {"latency": 200}}
    )
    result = await run_action(add, ctx)
    assert result.affected == ["glb:a:a-1", "glb:a:a-1:admin"]
    registry = server.registry
    assert "latency_downstream" in registry.get("glb:a:a-1").toxics
    assert "latency_downstream" in registry.get("glb:a:a-1:admin").toxics
    assert "latency_downstream" not in registry.get("glb:b:b-1").toxics
    async with aiohttp.ClientSession() as client:
        status, slow = await timed_get(client, listen["glb:a:a-1"])
        assert status == 200 and slow >= 0.19
        status, fast = await timed_get(client, listen["glb:b:b-1"])
        assert status == 200 and fast < 0.15
    await run_action(add, ctx)  # a leftover toxic of the same name is replaced, not a 409
    removed = await run_action(action({"kind": "toxic_remove", "link": "glb:a"}), ctx)
    assert removed.detail == "removed 2 toxic(s) from glb:a"
    assert "latency_downstream" not in registry.get("glb:a:a-1").toxics


async def test_link_down_refuses_and_link_up_restores(setup) -> None:
    ctx, _, listen = setup
    await run_action(action({"kind": "link_down", "link": "glb:a"}), ctx)
    async with aiohttp.ClientSession() as client:
        with pytest.raises(aiohttp.ClientConnectionError):
            await timed_get(client, listen["glb:a:a-1"])
        assert (await timed_get(client, listen["glb:b:b-1"]))[0] == 200
        await run_action(action({"kind": "link_up", "link": "glb:a"}), ctx)
        assert (await timed_get(client, listen["glb:a:a-1"]))[0] == 200


async def test_unknown_link_and_missing_proxy_api_are_clear_failures(setup) -> None:
    ctx, _, _ = setup
    with pytest.raises(ActionFailed, match=r"no fault proxy for link 'glb:c'.*glb:a"):
        await run_action(action({"kind": "link_down", "link": "glb:c"}), ctx)
    ctx.env.toxiproxy_url = None
    with pytest.raises(ActionFailed, match="no fault proxy"):
        await run_action(action({"kind": "link_down", "link": "glb:a"}), ctx)


async def test_http_action_and_probe(setup) -> None:
    ctx, _, _ = setup
    glb = ctx.env.glb_urls[0]
    ok = await run_action(action({"kind": "http", "url": f"{glb}/status/202"}), ctx)
    assert ok.detail.endswith(": 202")
    with pytest.raises(ActionFailed, match="answered 500"):
        await run_action(action({"kind": "http", "url": f"{glb}/status/500"}), ctx)
    passed = await run_probe(probe({"kind": "http", "url": f"{glb}/echo", "count": 4}), ctx)
    assert passed.ok and passed.value == 1.0
    failed = await run_probe(
        probe({"kind": "http", "url": f"{glb}/status/503", "min_success_ratio": 0.5}), ctx
    )
    assert not failed.ok and "status 503" in failed.detail
    unreachable = await run_probe(
        probe({"kind": "http", "url": "http://127.0.0.1:9/", "timeout_s": 0.5}), ctx
    )
    assert not unreachable.ok


async def test_metric_probe_reads_prometheus_text(setup) -> None:
    ctx, _, _ = setup

    async def metrics(request: web.Request) -> web.Response:
        text = (
            "# TYPE zonegate_glb_requests_total counter\n"
            'zonegate_glb_requests_total{zone="a",status_class="2xx"} 90\n'
            'zonegate_glb_requests_total{zone="a",status_class="5xx"} 10\n'
            'zonegate_glb_requests_total{zone="b",status_class="2xx"} 5\n'
        )
        return web.Response(text=text)

    app = web.Application()
    app.router.add_get("/metrics", metrics)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        url = f"http://127.0.0.1:{port}/metrics"
        spec = {
            "kind": "metric",
            "url": url,
            "name": "zonegate_glb_requests_total",
            "labels": {"zone": "a"},
            "tolerance": {"max": 50},
        }
        result = await run_probe(probe(spec), ctx)
        assert result.value == 100.0 and not result.ok
        spec["aggregate"] = "max"
        result = await run_probe(probe(spec), ctx)
        assert result.value == 90.0 and not result.ok
        spec["labels"] = {"status_class": "5xx"}
        result = await run_probe(probe(spec), ctx)
        assert result.ok and result.value == 10.0
    finally:
        await runner.cleanup()


async def test_annotation_lands_where_the_dashboard_reads_it(etcd_cluster, cluster_name) -> None:
    value = {
        "title": "drill zone-outage: completed",
        "kind": "drill",
        "at": 1700000000.25,
        "end": 1700000020.0,
        "drill": "zone-outage",
    }
    key = await write_annotation(etcd_cluster.endpoints, cluster_name, value)
    keys = Keys(cluster_name)
    assert key == keys.event(1700000000250)
    async with EtcdClient(etcd_cluster.endpoints, probe_interval=None) as client:
        stored = await client.get(key)
        assert stored is not None and json.loads(stored.value)["drill"] == "zone-outage"
        found = await etcd_annotations(client, keys.events_prefix)(1700000000.0, 1700000001.0)
    assert [(a.text, a.kind, a.end) for a in found] == [
        ("drill zone-outage: completed", "drill", 1700000020.0)
    ]
    await asyncio.sleep(0)
