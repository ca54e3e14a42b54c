"""The embedded scraper reading a real gateway node's /metrics under real traffic: the
SLO counts equal the requests sent, per route, status and latency bucket."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Protocol

import aiohttp

from zonegate.slo.exposition import wanted_for
from zonegate.slo.loader import parse_slo_text
from zonegate.slo.scraper import Scraper, static_targets
from zonegate.slo.sources import EmbeddedSource
from zonegate.slo.spec import SLOSpec
from zonegate.slo.store import SampleStore

SPECS = parse_slo_text(
    """
version: 1
slos:
  - {name: gateway, service: gw, objective: 0.99, sli: {kind: availability}}
  - {name: api, service: gw, objective: 0.99, sli: {kind: availability, route: api}}
  - {name: api-fast, service: gw, objective: 0.9, sli: {kind: latency, route: api, threshold: 0.25}}
  - {name: zone-a, service: gw, objective: 0.99, sli: {kind: availability, zone: zone-a}}
"""
).slos
GATEWAY, API, API_FAST, ZONE_A = SPECS


class RealNode(Protocol):
    """The ``real_node`` fixture (conftest): a gateway node with its admin listener."""

    def url(self, path: str) -> str: ...
    @property
    def metrics_url(self) -> str: ...


async def test_counts_match_the_requests_sent(tmp_path: Path, real_node: RealNode) -> None:
    clock = [1_000_000.0]
    source = EmbeddedSource(SampleStore(tmp_path / "slo.db"))
    scraper = Scraper(
        source, static_targets([real_node.metrics_url]), wanted_for(SPECS), clock=lambda: clock[0]
    )
    async with aiohttp.ClientSession() as http:

        async def get(path: str) -> int:
            async with http.get(real_node.url(path)) as resp:
                await resp.read()
                return resp.status

        assert await get("/api/warmup") == 200  # before the engine looks: a baseline
        first = await scraper.scrape_once()
        assert first.ok == [real_node.metrics_url], first.failed
        start = clock[0]
        statuses = await asyncio.gather(
            *(get("/api/echo") for _ in range(30)),
            *(get("/flaky/x") for _ in range(10)),
            *(get("/api/delay/300") for _ in range(5)),
        )
        assert statuses.count(200) == 35 and statuses.count(503) == 10, statuses
        clock[0] += 5
        second = await scraper.scrape_once()
        assert second.ok == [real_node.metrics_url], second.failed

    async def counts(spec: SLOSpec) -> tuple[float, float]:
        c = await source.counts(spec, start, clock[0])
        return c.bad, c.total

    assert await counts(GATEWAY) == (10, 45)
    assert await counts(API) == (0, 35)
    assert await counts(API_FAST) == (5, 35)  # the five 300 ms requests are over 0.25 s
    assert await counts(ZONE_A) == (10, 45)
    await scraper.close()
    await source.close()
