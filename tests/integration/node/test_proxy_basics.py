"""Routing and proxy semantics over real sockets."""

from __future__ import annotations

import aiohttp

from zonegate.testing.gateway import simple_config, url


async def test_proxies_and_sets_forwarding_headers(gateway, backends) -> None:
    backend = await backends("b1")
    node = await gateway(simple_config(backend.address))
    async with aiohttp.ClientSession() as session:
        async with session.get(url(node, "/echo?x=1"), headers={"X-Request-Id": "abc-1"}) as resp:
            assert resp.status == 200
            data = await resp.json()
            assert resp.headers["X-Request-Id"] == "abc-1"
            assert resp.headers["X-Zonegate-Zone"] == "zone-a"
            assert resp.headers["X-Zonegate-Node"] == "node-1"
    assert data["path"] == "/echo"
    assert data["query"] == "x=1"
    headers = {k.lower(): v for k, v in data["headers"].items()}
    assert headers["x-forwarded-for"] == "127.0.0.1"
    assert headers["x-forwarded-proto"] == "http"
    assert headers["via"] == "1.1 zonegate"
    assert headers["x-request-id"] == "abc-1"


async def test_no_route_is_404_json(gateway, backends) -> None:
    backend = await backends()
    config = simple_config(backend.address, match={"path": {"prefix": "/api"}})
    node = await gateway(config)
    async with aiohttp.ClientSession() as session, session.get(url(node, "/other")) as resp:
        assert resp.status == 404
        body = await resp.json()
    assert body["error"]["code"] == "route_not_found"
    assert body["error"]["request_id"] == resp.headers["X-Request-Id"]
