"""The Toxiproxy HTTP API over real HTTP: routes, status codes, JSON shapes, error bodies."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from zonegate.chaos.faultproxy import FaultProxyServer


@pytest.fixture
async def api() -> AsyncIterator[tuple[FaultProxyServer, aiohttp.ClientSession]]:
    async with (
        FaultProxyServer(port=0) as server,
        aiohttp.ClientSession(base_url=server.url) as session,
    ):
        yield server, session


@pytest.fixture
async def upstream() -> AsyncIterator[str]:
    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(65536):
            writer.write(data)
        writer.close()

    server = await asyncio.start_server(echo, "127.0.0.1", 0)
    yield f"127.0.0.1:{server.sockets[0].getsockname()[1]}"
    server.close()


async def call(
    session: aiohttp.ClientSession, method: str, path: str, body: Any = None, raw: bytes = b""
) -> tuple[int, Any]:
    kwargs: dict[str, Any] = {"json": body} if body is not None else {"data": raw}
    async with session.request(method, path, **kwargs) as resp:
        text = await resp.text()
        if resp.content_type == "application/json":
            return resp.status, await resp.json()
        return resp.status, text


async def test_proxy_lifecycle_and_shapes(
    api: tuple[FaultProxyServer, aiohttp.ClientSession], upstream: str
) -> None:
    _, session = api
    status, body = await call(
        session, "POST", "/proxies", {"name": "db", "listen": "127.0.0.1:0", "upstream": upstream}
    )
    assert status == 201
    assert body["name"] == "db" and body["upstream"] == upstream and body["enabled"] is True
    assert body["listen"].startswith("127.0.0.1:") and not body["listen"].endswith(":0")
    assert body["toxics"] == []
    status, index = await call(session, "GET", "/proxies")
    assert status == 200 and list(index) == ["db"] and index["db"] == body
    assert await call(session, "GET", "/proxies/db") == (200, body)

    status, disabled = await call(session, "POST", "/proxies/db", {"enabled": False})
    assert status == 200 and disabled["enabled"] is False and disabled["listen"] == body["listen"]
    status, enabled = await call(session, "PATCH", "/proxies/db", {"enabled": True})
    assert status == 200 and enabled["enabled"] is True

    assert await call(session, "DELETE", "/proxies/db") == (204, "")
    assert await call(session, "GET", "/proxies/db") == (
        404,
        {"error": "proxy not found", "status": 404},
    )


async def test_toxic_lifecycle_and_shapes(
    api: tuple[FaultProxyServer, aiohttp.ClientSession], upstream: str
) -> None:
    _, session = api
    await call(session, "POST", "/proxies", {"name": "db", "upstream": upstream})
    status, toxic = await call(
        session, "POST", "/proxies/db/toxics", {"type": "latency", "attributes": {"latency": 50}}
    )
    assert status == 200  # Toxiproxy answers 200, not 201, for a new toxic
    assert toxic == {
        "name": "latency_downstream",
        "type": "latency",
        "stream": "downstream",
        "toxicity": 1.0,
        "attributes": {"latency": 50, "jitter": 0},
    }
    await call(
        session,
        "POST",
        "/proxies/db/toxics",
        {"name": "cut", "type": "limit_data", "stream": "upstream", "attributes": {"bytes": 9}},
    )
    status, toxics = await call(session, "GET", "/proxies/db/toxics")
    assert [t["name"] for t in toxics] == ["cut", "latency_downstream"]
    assert (await call(session, "GET", "/proxies/db"))[1]["toxics"] == toxics
    status, one = await call(session, "GET", "/proxies/db/toxics/cut")
    assert status == 200 and one["attributes"] == {"bytes": 9}

    status, updated = await call(
        session, "PATCH", "/proxies/db/toxics/latency_downstream", {"attributes": {"jitter": 5}}
    )
    assert status == 200 and updated["attributes"] == {"latency": 50, "jitter": 5}
    status, updated = await call(
        session, "POST", "/proxies/db/toxics/latency_downstream", {"toxicity": 0.5}
    )
    assert status == 200 and updated["toxicity"] == 0.5

    assert await call(session, "DELETE", "/proxies/db/toxics/cut") == (204, "")
    assert await call(session, "GET", "/proxies/db/toxics/cut") == (
        404,
        {"error": "toxic not found", "status": 404},
    )
    assert await call(session, "POST", "/reset") == (204, "")
    assert (await call(session, "GET", "/proxies/db/toxics"))[1] == []


async def test_error_statuses_match_toxiproxy(
    api: tuple[FaultProxyServer, aiohttp.ClientSession], upstream: str
) -> None:
    _, session = api
    proxy = {"name": "db", "upstream": upstream}
    await call(session, "POST", "/proxies", proxy)
    cases: list[tuple[str, str, Any, bytes, int, str]] = [
        ("POST", "/proxies", proxy, b"", 409, "proxy already exists"),
        ("POST", "/proxies", None, b"{nope", 400, "bad request body: invalid JSON"),
        ("POST", "/proxies", None, b"", 400, "bad request body: EOF"),
        ("POST", "/proxies", {"name": "x"}, b"", 400, "missing required field: upstream"),
        ("POST", "/proxies", {"upstream": upstream}, b"", 400, "missing required field: name"),
        ("GET", "/proxies/nope", None, b"", 404, "proxy not found"),
        ("DELETE", "/proxies/nope", None, b"", 404, "proxy not found"),
        ("POST", "/proxies/nope/toxics", {"type": "latency"}, b"", 404, "proxy not found"),
        ("GET", "/proxies/db/toxics/nope", None, b"", 404, "toxic not found"),
        ("DELETE", "/proxies/db/toxics/nope", None, b"", 404, "toxic not found"),
        ("POST", "/proxies/db/toxics", {"type": "gremlins"}, b"", 400, "invalid toxic type"),
        ("POST", "/proxies/db/toxics", {"type": "latency", "stream": "x"}, b"", 400, "stream"),
        (
            "POST",
            "/proxies/db/toxics",
            {"type": "latency", "attributes": {"latency": -3}},
            b"",
            400,
            "latency",
        ),
        ("POST", "/populate", {"not": "a list"}, b"", 400, "expected a JSON array"),
        ("GET", "/nowhere", None, b"", 404, "not found"),
        ("PUT", "/proxies", None, b"", 405, "method not allowed"),
    ]
    for method, path, body, raw, status, fragment in cases:
        got_status, got = await call(session, method, path, body, raw)
        assert got_status == status, (method, path, got)
        assert got["status"] == status and fragment in got["error"], (method, path, got)
    # a duplicate toxic is 409
    await call(session, "POST", "/proxies/db/toxics", {"type": "latency"})
    status, got = await call(session, "POST", "/proxies/db/toxics", {"type": "latency"})
    assert (status, got) == (409, {"error": "toxic already exists", "status": 409})
    # the server kept running through all of it
    assert (await call(session, "GET", "/proxies/db"))[0] == 200


async def test_listen_conflict_is_reported_and_nothing_is_added(
    api: tuple[FaultProxyServer, aiohttp.ClientSession], upstream: str
) -> None:
    _, session = api
    _, first = await call(session, "POST", "/proxies", {"name": "a", "upstream": upstream})
    status, body = await call(
        session, "POST", "/proxies", {"name": "b", "listen": first["listen"], "upstream": upstream}
    )
    assert status == 500 and "address already in use" in body["error"].lower()
    assert list((await call(session, "GET", "/proxies"))[1]) == ["a"]


async def test_populate_creates_keeps_and_replaces(
    api: tuple[FaultProxyServer, aiohttp.ClientSession], upstream: str
) -> None:
    _, session = api
    status, body = await call(
        session,
        "POST",
        "/populate",
        [{"name": "a", "upstream": upstream}, {"name": "b", "upstream": upstream}],
    )
    assert status == 201 and [p["name"] for p in body["proxies"]] == ["a", "b"]
    listen_a = body["proxies"][0]["listen"]
    await call(session, "POST", "/proxies/a/toxics", {"type": "latency"})
    # same listen and upstream: kept, toxics and all
    status, body = await call(
        session, "POST", "/populate", [{"name": "a", "listen": listen_a, "upstream": upstream}]
    )
    assert status == 201 and body["proxies"][0]["toxics"][0]["name"] == "latency_downstream"
    # invalid entries: nothing changes
    status, body = await call(
        session, "POST", "/populate", [{"name": "c", "upstream": upstream}, {}]
    )
    assert status == 400 and "name at proxy 2" in body["error"]
    assert sorted((await call(session, "GET", "/proxies"))[1]) == ["a", "b"]


async def test_version_and_browser_refusal(
    api: tuple[FaultProxyServer, aiohttp.ClientSession],
) -> None:
    _, session = api
    status, body = await call(session, "GET", "/version")
    assert status == 200 and body["version"].startswith("2.")
    async with session.get("/proxies", headers={"User-Agent": "Mozilla/5.0"}) as resp:
        assert resp.status == 403
