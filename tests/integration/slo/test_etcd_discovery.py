"""With --etcd the engine scrapes the nodes registered in a real etcd (they come and go)
and draws the drill annotations the chaos harness writes under events/."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from zonegate.coordinator.client import EtcdClient
from zonegate.coordinator.etcd_server import EtcdCluster
from zonegate.coordinator.keys import Keys
from zonegate.coordinator.records import NodeInfo
from zonegate.coordinator.registry import NodeRegistration
from zonegate.slo.app import RUNTIME, ServeOptions, build_app
from zonegate.slo.etcd_plug import etcd_context
from zonegate.slo.loader import parse_slo_text
from zonegate.slo.metrics_server import MetricsServer
from zonegate.slo.scraper import ScrapeTarget

SLOS = parse_slo_text(
    "version: 1\nslos: [{name: nodes, service: gw, objective: 0.99, "
    "sli: {kind: availability}, alerting: {min_events: 1}}]"
).slos


async def until(check: Callable[[], Awaitable[Any]], what: str, timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = await check()
        if value:
            return value
        await asyncio.sleep(0.1)
    raise TimeoutError(f"timed out waiting for {what}")


def node_info(server: MetricsServer) -> NodeInfo:
    return NodeInfo(
        node_id=server.node, zone=server.zone, address="127.0.0.1:1",
        admin_address=f"127.0.0.1:{server.port}",
    )  # fmt: skip


@pytest.mark.timeout(90)
async def test_discovers_nodes_and_annotations(
    tmp_path: Path,
    etcd_cluster: EtcdCluster,
    cluster_name: str,
    metrics_servers: list[MetricsServer],
) -> None:
    a, b, glb = metrics_servers
    keys = Keys(cluster_name)
    async with EtcdClient(etcd_cluster.endpoints) as etcd:
        first = NodeRegistration(etcd, keys, node_info(a), ttl=2)
        first.start()
        assert await first.wait_registered(10)
        drill_at = time.time() - 60
        annotation = {"title": "drill zone-outage: passed", "kind": "drill", "at": drill_at,
                      "end": drill_at + 30}  # fmt: skip
        await etcd.put(keys.event(int(drill_at * 1000)), json.dumps(annotation))

        options = ServeOptions(
            specs=SLOS, db_path=tmp_path / "slo.db", scrape_interval_s=0.2, eval_interval_s=0.2
        )
        app = build_app(options)
        endpoints = ",".join(etcd_cluster.endpoints)
        app.cleanup_ctx.insert(0, etcd_context(endpoints, cluster_name, [ScrapeTarget(glb.url)]))
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        url = f"http://127.0.0.1:{runner.addresses[0][1]}"
        try:
            async with aiohttp.ClientSession() as http:

                async def scraped() -> set[str]:
                    async with http.get(url + "/api/v1/targets") as resp:
                        body = await resp.json()
                    return {t["target"] for t in body["targets"] if t["last_ok"]}

                await until(
                    lambda: _has(scraped, {f"node/a/{a.node}", glb.url}), "node a and the GLB"
                )
                second = NodeRegistration(etcd, keys, node_info(b), ttl=2)
                second.start()
                await until(lambda: _has(scraped, {f"node/b/{b.node}"}), "node b discovered")

                a.record(200, 40)
                b.record(503, 10)

                async def counted() -> bool:
                    async with http.get(url + "/api/v1/slos/nodes/burn-rate?window=1h") as resp:
                        body = await resp.json()
                    return bool(body["total"] == 50 and body["bad"] == 10)

                await until(counted, "traffic of both discovered nodes")

                await first.stop()  # node a leaves: no longer scraped, its history stays
                scraper = app[RUNTIME].scraper
                assert scraper is not None

                async def a_gone() -> bool:
                    cycle = scraper.last_cycle
                    return cycle is not None and f"node/a/{a.node}" not in cycle.ok

                await until(a_gone, "node a to drop out")
                await until(counted, "history kept after node a left")

                async with http.get(url + "/slo/nodes") as resp:
                    page = await resp.text()
                assert "drill zone-outage: passed" in page
                assert 'class="annotation"' in page or "class='annotation'" in page
                await second.stop()
        finally:
            await runner.cleanup()


async def _has(scraped: Callable[[], Awaitable[set[str]]], wanted: set[str]) -> bool:
    return wanted <= await scraped()
