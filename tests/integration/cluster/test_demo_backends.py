"""Demo backends over real sockets with a real etcd: idempotent orders and sessions shared
across zones, registration, the fault knob, conditional GETs."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from zonegate.cluster.demo.app import BackendOptions, build_app
from zonegate.coordinator.client import EtcdClient
from zonegate.coordinator.etcd_server import EtcdCluster
from zonegate.coordinator.keys import Keys

Start = Callable[..., Awaitable[str]]


@pytest.fixture
async def start_backend() -> AsyncIterator[Start]:
    runners: list[web.AppRunner] = []

    async def start(service: str, zone: str, etcd: str | None = None, cluster: str = "t") -> str:
        options = BackendOptions(service, zone, f"{service}-{zone}", "127.0.0.1", 0, etcd, cluster)
        runner = web.AppRunner(build_app(options), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        runners.append(runner)
        port = runner.addresses[0][1]
        return f"http://127.0.0.1:{port}"

    try:
        yield start
    finally:
        for runner in runners:
            await runner.cleanup()


@asynccontextmanager
async def client() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        yield session


async def _json(response: aiohttp.ClientResponse) -> Any:
    return await response.json()


async def test_idempotent_orders_are_deduplicated_across_zones(
    start_backend: Start, etcd_cluster: EtcdCluster, cluster_name: str
) -> None:
    etcd = ",".join(etcd_cluster.endpoints)
    a = await start_backend("orders", "zone-a", etcd, cluster_name)
    b = await start_backend("orders", "zone-b", etcd, cluster_name)
    body = {"item_id": 3, "quantity": 2, "user": "alice"}
    key = {"Idempotency-Key": "order-123"}
    async with client() as http:
        async with http.post(f"{a}/orders", json=body, headers=key) as first:
            assert first.status == 201
            assert "Idempotent-Replayed" not in first.headers
            created = await _json(first)
        async with http.post(f"{b}/orders", json=body, headers=key) as again:  # a retry elsewhere
            assert again.status == 201
            assert again.headers["Idempotent-Replayed"] == "true"
            assert (await _json(again))["id"] == created["id"]
        async with http.post(f"{b}/orders", json={**body, "quantity": 3}, headers=key) as other:
            assert other.status == 422
            assert (await _json(other))["error"] == "idempotency_key_reused"
        async with http.get(f"{b}/orders/{created['id']}") as read:
            order = await _json(read)
            assert order["total"] == 79.0 and order["created_in_zone"] == "zone-a"
            assert order["zone"] == "zone-b"
        ids = set()
        for _ in range(2):  # without a key every POST is a new order
            async with http.post(f"{a}/orders", json=body) as plain:
                ids.add((await _json(plain))["id"])
        assert len(ids) == 2
        async with http.post(f"{a}/orders", json={"item_id": 999}) as bad:
            assert bad.status == 400 and (await _json(bad))["error"] == "bad_order"
        async with http.post(f"{a}/orders", data=b"{not json") as garbage:
            assert garbage.status == 400


async def test_sessions_survive_moving_to_another_zone(
    start_backend: Start, etcd_cluster: EtcdCluster, cluster_name: str
) -> None:
    etcd = ",".join(etcd_cluster.endpoints)
    a = await start_backend("users", "zone-a", etcd, cluster_name)
    b = await start_backend("users", "zone-b", etcd, cluster_name)
    async with client() as http:
        async with http.post(f"{a}/users/login", json={"username": "alice"}) as login:
            assert login.status == 200
            token = (await _json(login))["session"]
            assert login.cookies["zg_session"].value == token
        cookie = {"Cookie": f"zg_session={token}"}
        async with http.get(f"{b}/users/me", headers=cookie) as me:
            assert me.status == 200
            data = await _json(me)
            assert data["user"] == "alice"
            assert (data["created_in_zone"], data["zone"]) == ("zone-a", "zone-b")
        bearer = {"Authorization": f"Bearer {token}"}
        async with http.post(f"{b}/users/logout", headers=bearer) as logout:
            assert logout.status == 204
        async with http.get(f"{a}/users/me", headers=cookie) as gone:
            assert gone.status == 401
        async with http.post(f"{a}/users/login", json={"username": "Not Valid!"}) as bad:
            assert bad.status == 400


async def test_backend_registers_in_etcd_and_leaves_on_stop(
    etcd_cluster: EtcdCluster, cluster_name: str
) -> None:
    etcd = ",".join(etcd_cluster.endpoints)
    options = BackendOptions("catalog", "zone-a", "catalog-a", "127.0.0.1", 0, etcd, cluster_name)
    runner = web.AppRunner(build_app(options), access_log=None)
    await runner.setup()
    key = Keys(cluster_name).service("catalog", "zone-a", "catalog-a")
    async with EtcdClient(etcd_cluster.endpoints, probe_interval=None) as etcd_client:
        deadline = time.monotonic() + 5
        while await etcd_client.get(key) is None:
            assert time.monotonic() < deadline, "the backend did not register"
            await asyncio.sleep(0.05)
        await runner.cleanup()
        assert await etcd_client.get(key) is None


async def test_fault_knob(start_backend: Start) -> None:
    url = await start_backend("catalog", "zone-a")
    async with client() as http:
        async with http.post(f"{url}/_fault", json={"error_rate": 1.0, "error_status": 500}) as r:
            assert r.status == 200
        async with http.get(f"{url}/catalog/items/1") as failing:
            assert failing.status == 500
            assert (await _json(failing))["error"] == "injected_fault"
        async with http.get(f"{url}/healthz") as health:
            assert health.status == 200  # spared unless include_health
        await http.post(f"{url}/_fault", json={"error_rate": 1.0, "include_health": True})
        async with http.get(f"{url}/healthz") as health:
            assert health.status == 503
        await http.post(f"{url}/_fault", json={"latency_ms": 150})
        began = time.monotonic()
        async with http.get(f"{url}/catalog/items/1") as slow:
            assert slow.status == 200
        assert time.monotonic() - began >= 0.15
        await http.post(f"{url}/_fault", json={"hang": True})
        hung = asyncio.create_task(http.get(f"{url}/catalog/items/2"))
        await asyncio.sleep(0.2)
        assert not hung.done()
        async with http.delete(f"{url}/_fault") as cleared:
            assert (await _json(cleared))["hang"] is False
        response = await asyncio.wait_for(hung, 5)
        assert response.status == 200
        response.release()
        async with http.post(f"{url}/_fault", json={"error_rate": 7}) as bad:
            assert bad.status == 400 and "error_rate" in (await _json(bad))["message"]


async def test_catalog_conditional_get_and_identity_headers(start_backend: Start) -> None:
    url = await start_backend("catalog", "zone-a")
    async with client() as http:
        async with http.get(f"{url}/catalog/items") as full:
            assert full.status == 200
            etag = full.headers["ETag"]
            assert full.headers["X-Backend-Zone"] == "zone-a"
            assert len((await _json(full))["items"]) == 12
        async with http.get(f"{url}/catalog/items", headers={"If-None-Match": etag}) as same:
            assert same.status == 304
        async with http.get(f"{url}/catalog/items/kettle") as by_sku:
            assert (await _json(by_sku))["id"] == 3
        async with http.get(f"{url}/catalog/items/nope") as missing:
            assert missing.status == 404


async def test_store_outage_is_a_503_with_a_code(start_backend: Start) -> None:
    from zonegate.testing.ports import free_port

    url = await start_backend("users", "zone-a", f"127.0.0.1:{free_port()}")
    async with client() as http:
        async with http.post(f"{url}/users/login", json={"username": "bob"}) as login:
            assert login.status == 503
            assert (await _json(login))["error"] == "store_unavailable"
