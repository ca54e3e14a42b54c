"""429 paths with their headers, per-IP limits behind a trusted proxy, shadow mode,
CORS preflight and header transforms, over real sockets."""

from __future__ import annotations

from typing import Any

import aiohttp

from zonegate.testing.gateway import simple_config


def limited(**cfg: Any) -> dict[str, Any]:
    limit = {"name": "per-ip", "algorithm": "token_bucket", "requests": 3, "per_s": 60, **cfg}
    return {"all": {"rate_limits": [limit]}}


async def test_429_with_retry_after_and_ratelimit_headers(
    policy_gateway: Any, backends: Any
) -> None:
    backend = await backends()
    gw = await policy_gateway(simple_config(backend.address), route_policies=limited(headers=True))
    statuses = []
    async with aiohttp.ClientSession() as session:
        for i in range(4):
            async with session.get(gw.url("/echo")) as resp:
                statuses.append(resp.status)
                if i == 0:
                    assert resp.headers["RateLimit-Limit"] == "3"
                    assert resp.headers["RateLimit-Remaining"] == "2"
                    assert int(resp.headers["RateLimit-Reset"]) in (20, 21)
                if resp.status == 429:
                    body = await resp.json()
                    headers = resp.headers
    assert statuses == [200, 200, 200, 429]
    assert body["error"]["code"] == "rate_limited"
    assert 19 <= int(headers["Retry-After"]) <= 20
    assert headers["RateLimit-Limit"] == "3" and headers["RateLimit-Remaining"] == "0"
    assert int(headers["RateLimit-Reset"]) in (59, 60)
    assert backend.state.hits == 3


async def test_shadow_mode_lets_everything_through(policy_gateway: Any, backends: Any) -> None:
    backend = await backends()
    gw = await policy_gateway(simple_config(backend.address), route_policies=limited(enforce=False))
    async with aiohttp.ClientSession() as session:
        for _ in range(6):
            async with session.get(gw.url("/echo")) as resp:
                assert resp.status == 200
                assert "RateLimit-Limit" not in resp.headers
    assert backend.state.hits == 6
    assert gw.observer.rate_limits[("all", "per-ip", "shadow_limited")] == 3


async def _get(port: int, address: str, local: str, xff: str | None) -> int:
    connector = aiohttp.TCPConnector(local_addr=(local, 0))
    headers = {"X-Forwarded-For": xff} if xff else {}
    async with aiohttp.ClientSession(connector=connector) as session:
        async with session.get(f"http://{address}:{port}/echo", headers=headers) as resp:
            return resp.status


async def test_per_ip_limit_behind_trusted_proxy(policy_gateway: Any, backends: Any) -> None:
    """127.0.0.1 plays the trusted load balancer; 127.0.0.2 an untrusted direct client."""
    backend = await backends()
    gw = await policy_gateway(
        simple_config(backend.address),
        route_policies=limited(requests=2),
        policies={"trusted_proxies": ["127.0.0.1/32"]},
    )
    host, port = gw.node.address
    lb = "127.0.0.1"
    # two clients behind the proxy get separate buckets
    assert [await _get(port, host, lb, "198.51.100.1") for _ in range(3)] == [200, 200, 429]
    assert [await _get(port, host, lb, "198.51.100.2") for _ in range(2)] == [200, 200]
    # a client cannot escape its bucket by prepending addresses to the header
    assert await _get(port, host, lb, "203.0.113.77, 198.51.100.1") == 429
    # an untrusted peer's X-Forwarded-For is ignored: it is limited as itself
    direct = [await _get(port, host, "127.0.0.2", f"192.0.2.{i}") for i in range(3)]
    assert direct == [200, 200, 429]


async def test_cors_preflight_and_actual_request(policy_gateway: Any, backends: Any) -> None:
    backend = await backends()
    gw = await policy_gateway(
        simple_config(backend.address),
        route_policies={
            "all": {
                "auth": {"type": "api_key"},
                "cors": {
                    "allow_origins": ["https://app.example"],
                    "expose_headers": ["x-request-id"],
                },
            }
        },
    )
    preflight = {
        "Origin": "https://app.example",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type,x-api-key",
    }
    async with aiohttp.ClientSession() as session:
        async with session.options(gw.url("/orders"), headers=preflight) as resp:
            assert resp.status == 204
            assert await resp.read() == b""
            assert resp.headers["Access-Control-Allow-Origin"] == "https://app.example"
            assert "POST" in resp.headers["Access-Control-Allow-Methods"]
            assert "x-api-key" in resp.headers["Access-Control-Allow-Headers"]
            assert resp.headers["Access-Control-Max-Age"] == "600"
            assert resp.headers["Vary"] == "Origin"
        evil = {**preflight, "Origin": "https://evil.example"}
        async with session.options(gw.url("/orders"), headers=evil) as resp:
            assert resp.status == 403
            assert (await resp.json())["error"]["code"] == "forbidden"
            assert "Access-Control-Allow-Origin" not in resp.headers
    assert backend.state.hits == 0  # preflights never reach the backend


async def test_gateway_errors_on_a_cors_route_carry_the_cors_headers(
    policy_gateway: Any, backends: Any
) -> None:
    """A browser can only read a 401 or 429 that has Access-Control-Allow-Origin."""
    backend = await backends()
    limit = {"name": "per-ip", "algorithm": "token_bucket", "requests": 1, "per_s": 60}
    cors = {"allow_origins": ["https://app.example"], "expose_headers": ["retry-after"]}
    keyless = await policy_gateway(
        simple_config(backend.address),
        route_policies={"all": {"auth": {"type": "api_key"}, "cors": cors}},
    )
    limited_gw = await policy_gateway(
        simple_config(backend.address),
        route_policies={"all": {"rate_limits": [limit], "cors": cors}},
    )
    origin = {"Origin": "https://app.example"}
    async with aiohttp.ClientSession() as session:
        async with session.get(keyless.url("/orders"), headers=origin) as resp:
            assert resp.status == 401
            assert resp.headers["Access-Control-Allow-Origin"] == "https://app.example"
            assert resp.headers["Access-Control-Expose-Headers"] == "retry-after"
            assert "WWW-Authenticate" in resp.headers
        async with session.get(
            keyless.url("/orders"), headers={"Origin": "https://evil.example"}
        ) as resp:
            assert resp.status == 401
            assert "Access-Control-Allow-Origin" not in resp.headers
        statuses = []
        for _ in range(2):
            async with session.get(limited_gw.url("/orders"), headers=origin) as resp:
                statuses.append(resp.status)
                assert resp.headers["Access-Control-Allow-Origin"] == "https://app.example"
        assert statuses == [200, 429]
        assert resp.headers["Retry-After"]


async def test_cors_headers_on_proxied_response(policy_gateway: Any, backends: Any) -> None:
    backend = await backends()
    gw = await policy_gateway(
        simple_config(backend.address),
        route_policies={"all": {"cors": {"allow_origins": ["https://*.app.example"]}}},
    )
    async with aiohttp.ClientSession() as session:
        async with session.get(
            gw.url("/echo"), headers={"Origin": "https://eu.app.example"}
        ) as resp:
            assert resp.status == 200
            assert resp.headers["Access-Control-Allow-Origin"] == "https://eu.app.example"
            assert resp.headers["Vary"] == "Origin"


async def test_header_transforms(policy_gateway: Any, backends: Any) -> None:
    backend = await backends()
    gw = await policy_gateway(
        simple_config(backend.address),
        route_policies={
            "all": {
                "transform": {
                    "request_headers": {
                        "set": {"x-gateway-zone": "${zone}", "x-route": "${route}"},
                        "add": {"x-client": "${client_ip}"},
                        "remove": ["cookie"],
                    },
                    "response_headers": {
                        "set": {"x-served-by": "${node}@${zone}", "x-req": "${request_id}"},
                        "remove": ["server"],
                    },
                }
            }
        },
    )
    async with aiohttp.ClientSession() as session:
        async with session.get(
            gw.url("/echo"), headers={"Cookie": "s=1", "X-Request-Id": "r-42"}
        ) as resp:
            assert resp.status == 200
            seen = {k.lower(): v for k, v in (await resp.json())["headers"].items()}
            assert resp.headers["X-Served-By"] == "node-1@zone-a"
            assert resp.headers["X-Req"] == "r-42"
            assert "Server" not in resp.headers
    assert seen["x-gateway-zone"] == "zone-a" and seen["x-route"] == "all"
    assert seen["x-client"] == "127.0.0.1" and "cookie" not in seen
