"""The catalog of a live cluster: config from etcd (platform + team fragments), health from
the nodes' admin /status (real health checks against a live and a dead host), the page,
the JSON, the OpenAPI summary and ``zonegate catalog``."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import Callable
from typing import Any

import aiohttp
from aiohttp import web
from prometheus_client import CollectorRegistry

from zonegate.cli.main import main
from zonegate.config.loader import parse_config
from zonegate.coordinator.client import EtcdClient
from zonegate.coordinator.config_store import ConfigStore
from zonegate.coordinator.etcd_server import EtcdCluster
from zonegate.coordinator.fragments import FragmentStore, fragment_key
from zonegate.coordinator.keys import Keys
from zonegate.coordinator.metrics import CoordinatorMetrics
from zonegate.coordinator.records import NodeInfo
from zonegate.node.delivery.catalog_page import catalog_app, etcd_catalog_app
from zonegate.node.delivery.catalog_source import EtcdCatalogSource
from zonegate.node.ops.admin import AdminServer, AdminState
from zonegate.node.runtime import GatewayNode


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def platform(cluster: str, web_address: str) -> dict[str, Any]:
    return {
        "version": 1,
        "cluster": cluster,
        "clusters": [{"name": "web", "endpoints": [{"address": web_address, "zone": "zone-a"}]}],
        "routes": [{"name": "web", "upstream": "web", "description": "the web site"}],
        "teams": [
            {
                "name": "orders",
                "path_prefixes": ["/orders"],
                "description": "Order management",
                "contact": "orders@example.com",
            }
        ],
    }


def orders_fragment(live: str, dead: str, canary: str) -> dict[str, Any]:
    check = {"path": "/healthz", "interval_s": 0.1, "fast_interval_s": 0.05, "timeout_s": 0.2}
    return {
        "version": 1,
        "clusters": [
            {
                "name": "orders-v1",
                "endpoints": [
                    {"address": live, "zone": "zone-a"},
                    {"address": dead, "zone": "zone-b"},
                ],
                "health_check": {**check, "unhealthy_threshold": 1},
            },
            {"name": "orders-v2", "endpoints": [{"address": canary, "zone": "zone-a"}]},
        ],
        "routes": [
            {
                "name": "orders-api",
                "description": "Place and read orders",
                "match": {"path": {"prefix": "/orders"}, "methods": ["GET", "POST"]},
                "upstream": "orders-v1",
                "split": {
                    "clusters": [
                        {"cluster": "orders-v1", "weight": 90, "version": "1.4"},
                        {"cluster": "orders-v2", "weight": 10, "version": "2.0-rc1"},
                    ]
                },
            }
        ],
    }


async def until(check: Callable[[], Any], what: str, timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout}s: {what}")
        await asyncio.sleep(0.05)


async def test_catalog_matches_config_and_live_health(
    etcd_cluster: EtcdCluster, cluster_name: str, backends, capsys
) -> None:
    web_backend, live, canary = await backends("web"), await backends("v1"), await backends("v2")
    keys = Keys(cluster_name)
    metrics = CoordinatorMetrics(CollectorRegistry())
    async with EtcdClient(etcd_cluster.endpoints, metrics=metrics) as client:
        platform_doc = platform(cluster_name, web_backend.address)
        await ConfigStore(client, keys).apply(parse_config(platform_doc))
        fragment = orders_fragment(live.address, f"127.0.0.1:{closed_port()}", canary.address)
        store = FragmentStore(client, keys)
        stored, _, plan = await store.apply("orders", fragment)
        assert plan.merged is not None

        node = GatewayNode(plan.merged.config, node_id="n1", zone="zone-a")
        await node.start("127.0.0.1", 0)
        admin = AdminServer(AdminState(node, CollectorRegistry(), None, lambda: False))
        admin_host, admin_port = await admin.start("127.0.0.1", 0)
        assert node.address is not None
        info = NodeInfo(
            "n1", "zone-a", f"{node.address[0]}:{node.address[1]}", f"{admin_host}:{admin_port}"
        )
        await client.put(keys.node("zone-a", "n1"), info.to_json())
        # a bad fragment of an undelegated team shows up as left out
        bad = {"fragment": {"version": 1, "routes": [{"name": "x", "upstream": "web"}]}}
        await client.put(fragment_key(keys, "intruder"), json.dumps(bad))
        try:
            source = EtcdCatalogSource(client, keys)

            async def degraded() -> Any:
                catalog = await source.catalog()
                zones = catalog.teams[0].routes[0].versions[0].zones
                return (
                    catalog
                    if [(z.zone, z.healthy) for z in zones] == [("zone-a", 1), ("zone-b", 0)]
                    else None
                )

            catalog = await until(degraded, "the dead host reported unhealthy")
            assert catalog.cluster == cluster_name and catalog.revision >= stored.revision
            assert catalog.health_sources == [f"http://{admin_host}:{admin_port}"]
            assert catalog.health_errors == []
            assert "no delegation" in catalog.dropped["intruder"][0]
            orders, platform_team = catalog.teams
            assert (orders.name, orders.contact) == ("orders", "orders@example.com")
            route = orders.routes[0]
            assert (route.name, route.team, route.description) == (
                "orders-api",
                "orders",
                "Place and read orders",
            )
            assert [(v.cluster, v.version, v.share) for v in route.versions] == [
                ("orders-v1", "1.4", 90.0),
                ("orders-v2", "2.0-rc1", 10.0),
            ]
            assert [(z.zone, z.healthy, z.total) for z in route.versions[1].zones] == [
                ("zone-a", 1, 1)
            ]
            assert platform_team.name == "platform"
            assert [r.name for r in platform_team.routes] == ["web"]

            # the page, the JSON and the OpenAPI summary, mounted as a sub-app
            app = web.Application()
            app.add_subapp("/catalog/", catalog_app(source, ttl_s=0))
            runner = web.AppRunner(app)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            base = f"http://127.0.0.1:{port}/catalog"
            try:
                async with aiohttp.ClientSession() as session:
                    async with session.get(f"{base}/") as resp:
                        page = await resp.text()
                        assert resp.status == 200
                    async with session.get(f"{base}/api") as resp:
                        api = await resp.json()
                    async with session.get(f"{base}/openapi/orders") as resp:
                        openapi = await resp.json()
                    async with session.get(f"{base}/openapi/nobody") as resp:
                        missing = (resp.status, await resp.json())
            finally:
                await runner.cleanup()
            assert "orders-api" in page and "zone-b 0/1" in page and "intruder" in page
            assert api["teams"][0]["routes"][0]["versions"][1]["share"] == 10.0
            assert openapi["paths"]["/orders"]["get"]["summary"] == "Place and read orders"
            assert missing[0] == 404 and "teams: orders, platform" in missing[1]["error"]["message"]

            # the CLI prints the same catalog
            etcd = ["--etcd", ",".join(etcd_cluster.endpoints), "--cluster", cluster_name]
            capsys.readouterr()
            code = await asyncio.to_thread(main, ["catalog", "--json", *etcd])
            assert code == 0
            printed = json.loads(capsys.readouterr().out)
            assert printed["teams"][0]["routes"][0]["versions"][0]["zones"] == [
                {"zone": "zone-a", "healthy": 1, "total": 1},
                {"zone": "zone-b", "healthy": 0, "total": 1},
            ]
            code = await asyncio.to_thread(main, ["catalog", "--openapi", "orders", *etcd])
            assert code == 0 and json.loads(capsys.readouterr().out)["openapi"] == "3.1.0"
            code = await asyncio.to_thread(main, ["catalog", *etcd])
            assert code == 0 and "orders-api" in capsys.readouterr().out
        finally:
            await admin.stop()
            await node.stop()


async def test_catalog_sub_app_with_its_own_etcd_client(
    etcd_cluster: EtcdCluster, cluster_name: str
) -> None:
    endpoints = ",".join(etcd_cluster.endpoints)
    app = web.Application()
    app.add_subapp("/catalog/", etcd_catalog_app(endpoints, cluster_name, ttl_s=0))
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        async with aiohttp.ClientSession() as session:
            async with session.get(f"http://127.0.0.1:{port}/catalog/api") as resp:
                assert resp.status == 503  # nothing stored yet: a clear error, no crash
                body = await resp.json()
                assert "no config is stored" in body["error"]["message"]
            metrics = CoordinatorMetrics(CollectorRegistry())
            async with EtcdClient(etcd_cluster.endpoints, metrics=metrics) as client:
                config = parse_config(platform(cluster_name, "127.0.0.1:9"))
                await ConfigStore(client, Keys(cluster_name)).apply(config)
            async with session.get(f"http://127.0.0.1:{port}/catalog/") as resp:
                assert resp.status == 200
                assert "Service catalog of " + cluster_name in await resp.text()
    finally:
        await runner.cleanup()
