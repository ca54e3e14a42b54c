"""The engine as a server: scraping real /metrics under traffic, an outage that pages by
webhook (Alertmanager format) and through a real Alertmanager, recovery, the JSON API,
and alert history that survives a restart."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from zonegate.slo.app import ServeOptions, build_app
from zonegate.slo.loader import parse_slo_text
from zonegate.slo.metrics_server import MetricsServer
from zonegate.slo.notify import fingerprint
from zonegate.slo.prometheus_server import Alertmanager
from zonegate.slo.scraper import static_targets
from zonegate.slo.spec import Notifications, WebhookTarget

SLOS = parse_slo_text(
    """
version: 1
slos:
  - name: api
    service: gateway
    objective: 0.99
    window: 1h
    sli: {kind: availability}
    labels: {team: edge}
    alerting:
      min_events: 1
      keep_resolved: 1m
      windows: [{severity: page, burn_rate: 2, long: 20s, short: 4s}]
"""
).slos


async def until(check: Callable[[], Awaitable[Any]], what: str, timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = await check()
        if value:
            return value
        await asyncio.sleep(0.1)
    raise TimeoutError(f"timed out waiting for {what}")


@contextlib.asynccontextmanager
async def site(app: web.Application) -> AsyncIterator[str]:
    runner = web.AppRunner(app)
    await runner.setup()
    tcp = web.TCPSite(runner, "127.0.0.1", 0)
    await tcp.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


@contextlib.asynccontextmanager
async def webhook_receiver() -> AsyncIterator[tuple[str, list[dict[str, Any]]]]:
    received: list[dict[str, Any]] = []

    async def hook(request: web.Request) -> web.Response:
        received.append(await request.json())
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/hook", hook)
    async with site(app) as url:
        yield f"{url}/hook", received


class Traffic:
    def __init__(self, server: MetricsServer) -> None:
        self.server = server
        self.status = 200
        self.task: asyncio.Task[None] | None = None

    async def run(self) -> None:
        while True:
            self.server.record(self.status, 10)
            await asyncio.sleep(0.05)


@pytest.mark.timeout(90)
async def test_outage_pages_recovers_and_history_survives(
    tmp_path: Path, metrics_servers: list[MetricsServer], alertmanager: Alertmanager
) -> None:
    a, b, _ = metrics_servers
    await alertmanager.start()
    db = tmp_path / "slo.db"
    traffic = Traffic(a)
    traffic_task = asyncio.create_task(traffic.run(), name="traffic")
    async with webhook_receiver() as (hook_url, received):
        options = ServeOptions(
            specs=SLOS,
            notifications=Notifications(
                webhooks=[WebhookTarget(url=hook_url)],
                alertmanager_url=alertmanager.url,
                external_url="http://slo.example",
            ),
            db_path=db,
            targets=static_targets([a.url, b.url]),
            scrape_interval_s=0.2,
            eval_interval_s=0.2,
        )
        async with site(build_app(options)) as url, aiohttp.ClientSession() as http:

            async def get(path: str) -> tuple[int, Any]:
                async with http.get(url + path) as resp:
                    return resp.status, await resp.json()

            async def healthy() -> bool:
                _, body = await get("/api/v1/slos")
                slo = body["slos"][0]
                return bool(slo["events"]["total"] > 50 and slo["health"] == "ok")

            await until(healthy, "traffic to be counted")
            outage_start = time.time()
            traffic.status = 503
            await until(lambda: _async(any(p["status"] == "firing" for p in received)), "page")
            firing = next(p for p in received if p["status"] == "firing")
            assert time.time() - outage_start < 5
            alert = firing["alerts"][0]
            assert firing["version"] == "4" and firing["receiver"] == "zonegate-slo"
            assert alert["labels"] == {
                "alertname": "ZonegateSLOBurnRate",
                "severity": "page",
                "slo": "api",
                "slo_service": "gateway",
                "team": "edge",
            }
            assert alert["fingerprint"] == fingerprint(alert["labels"])
            assert alert["endsAt"] == "0001-01-01T00:00:00Z"
            assert alert["generatorURL"] == "http://slo.example/slo/api"

            async def in_alertmanager() -> list[dict[str, Any]]:
                alerts = await alertmanager.alerts()
                return [x for x in alerts if x["labels"].get("slo") == "api"]

            (managed,) = await until(in_alertmanager, "alert in Alertmanager")
            assert managed["labels"]["severity"] == "page"
            assert managed["status"]["state"] == "active"
            assert managed["fingerprint"] == alert["fingerprint"]  # same hash as Alertmanager

            status, burn = await get("/api/v1/slos/api/burn-rate?window=4s")
            assert status == 200 and burn["burn_rate"] > 2 and burn["window"] == "4s"

            traffic.status = 200
            await until(lambda: _async(any(p["status"] == "resolved" for p in received)), "resolve")
            resolved = next(p for p in received if p["status"] == "resolved")
            assert resolved["alerts"][0]["endsAt"] != "0001-01-01T00:00:00Z"

            async def gone_from_alertmanager() -> bool:
                return not await in_alertmanager()

            await until(gone_from_alertmanager, "alert resolved in Alertmanager")

            status, budget = await get(f"/api/v1/slos/api/budget?start={outage_start - 1}")
            assert status == 200 and budget["bad"] > 0 and budget["budget_consumed"] > 0
            status, error = await get("/api/v1/slos/nope")
            assert status == 404 and error["error"]["code"] == "slo_not_found"
            status, error = await get("/api/v1/slos/api/budget")
            assert status == 400 and "start is required" in error["error"]["message"]
            status, error = await get("/api/v1/slos/api/burn-rate?window=soon")
            assert status == 400 and error["error"]["code"] == "bad_slo_query"
            status, targets = await get("/api/v1/targets")
            assert {t["target"] for t in targets["targets"]} == {a.url, b.url}
            assert targets["notifications"]["failed"] == 0

        # a restarted engine keeps the history and continues from the same states
        restarted = ServeOptions(specs=SLOS, db_path=db, evaluate=False)
        async with site(build_app(restarted)) as url, aiohttp.ClientSession() as http:
            async with http.get(url + "/api/v1/alerts?slo=api") as resp:
                history = (await resp.json())["alerts"]
    traffic_task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await traffic_task
    states = [(h["previous"], h["state"]) for h in history]
    assert ("inactive", "firing") in states and ("firing", "resolved") in states


async def _async(value: Any) -> Any:
    return value
