"""Generated rules in a real Prometheus scraping a real gateway node under real traffic
(and a GLB's /metrics): its recorded values match the embedded engine's numbers, and the
PromQL data source agrees with both."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Protocol

import aiohttp
import pytest

from zonegate.slo.exposition import wanted_for
from zonegate.slo.grafana import build_dashboard, panel_queries
from zonegate.slo.loader import parse_slo_text
from zonegate.slo.metrics_server import MetricsServer
from zonegate.slo.prometheus_server import Prometheus
from zonegate.slo.rules import render_rules
from zonegate.slo.scraper import Scraper, static_targets
from zonegate.slo.sources import EmbeddedSource, PrometheusSource
from zonegate.slo.status import compute_status, windows_needed
from zonegate.slo.store import SampleStore

SPECS = parse_slo_text(
    """
version: 1
slos:
  - {name: nodes, service: gw, objective: 0.99, sli: {kind: availability}}
  - {name: fast, service: gw, objective: 0.9, sli: {kind: latency, route: api, threshold: 0.25}}
  - {name: edge, service: gw, objective: 0.999, sli: {kind: availability, source: edge}}
"""
).slos
# per batch: 8 fast and 1 slow (300 ms) request on route api, 1 to the failing route
EXPECTED_ERROR_RATIO = {"nodes": 0.1, "fast": 1 / 9, "edge": 0.05}


class RealNode(Protocol):
    """The ``real_node`` fixture (conftest): a gateway node with its admin listener."""

    def url(self, path: str) -> str: ...
    @property
    def metrics_url(self) -> str: ...


@contextlib.asynccontextmanager
async def traffic(node: RealNode, glb: MetricsServer) -> AsyncIterator[None]:
    async def one(http: aiohttp.ClientSession, path: str) -> None:
        async with http.get(node.url(path)) as resp:
            await resp.read()

    async def run() -> None:
        pending: set[asyncio.Task[None]] = set()
        async with aiohttp.ClientSession() as http:
            try:
                while True:
                    paths = ["/api/echo"] * 8 + ["/api/delay/300", "/flaky/x"]
                    for path in paths:
                        task = asyncio.create_task(one(http, path))
                        pending.add(task)
                        task.add_done_callback(pending.discard)
                    glb.record(200, 19)
                    glb.record(503, 1)
                    await asyncio.sleep(0.1)
            finally:
                for task in list(pending):
                    task.cancel()
                await asyncio.gather(*pending, return_exceptions=True)

    task = asyncio.create_task(run(), name="slo-test-traffic")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def wait_for_samples(prometheus: Prometheus, expr: str, count: int) -> None:
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline:
        found = await prometheus.query(f"count_over_time(({expr})[1m:1s])")
        if found and all(float(r["value"][1]) >= count for r in found):
            return
        await asyncio.sleep(0.5)
    raise TimeoutError(f"prometheus never recorded {count} samples of {expr}")


@pytest.mark.timeout(90)
async def test_prometheus_rules_match_the_engine(
    real_node: RealNode, metrics_servers: list[MetricsServer], prometheus: Prometheus
) -> None:
    glb = metrics_servers[2]
    urls = [real_node.metrics_url, glb.url]
    store = SampleStore(":memory:")
    embedded = EmbeddedSource(store)
    scraper = Scraper(
        embedded,
        static_targets(urls),
        wanted_for(SPECS),
        interval_s=0.5,
    )
    remote = PrometheusSource(prometheus.url)
    async with traffic(real_node, glb):
        scraping = asyncio.create_task(scraper.run(), name="slo-test-scraper")
        try:
            targets = [u.removeprefix("http://").removesuffix("/metrics") for u in urls]
            await prometheus.start(targets, render_rules(SPECS))
            await wait_for_samples(prometheus, 'slo:sli_error:ratio_rate5m{slo="edge"}', 8)
            now = time.time()
            for spec in SPECS:
                recorded = await prometheus.query(
                    f'slo:sli_error:ratio_rate5m{{slo="{spec.name}"}}'
                )
                assert len(recorded) == 1, recorded
                prom_ratio = float(recorded[0]["value"][1])
                counts = await embedded.window_counts(spec, now, windows_needed(spec))
                engine_ratio = counts[300].error_ratio
                assert engine_ratio is not None, scraper.last_cycle
                expected = EXPECTED_ERROR_RATIO[spec.name]
                assert engine_ratio == pytest.approx(expected, abs=0.01), spec.name
                # Prometheus extrapolates each series to the window's edges: with a few seconds
                # of history that moves a ratio by several % (it shrinks as history grows)
                assert prom_ratio == pytest.approx(engine_ratio, rel=0.1, abs=0.005), spec.name

                status = compute_status(spec, now, counts, await embedded.covered(spec, now))
                burn = await prometheus.query(f'slo:current_burn_rate:ratio{{slo="{spec.name}"}}')
                assert float(burn[0]["value"][1]) == pytest.approx(status.current_burn, rel=0.1)
                budget = await prometheus.query(f'slo:error_budget:ratio{{slo="{spec.name}"}}')
                assert float(budget[0]["value"][1]) == pytest.approx(1 - spec.objective)

                # the PromQL data source computes the same from raw counters
                via_prom = await remote.window_counts(spec, now, [300])
                prom_source_ratio = via_prom[300].error_ratio
                assert prom_source_ratio == pytest.approx(engine_ratio, rel=0.1, abs=0.005)

            # every Grafana panel query is valid PromQL over the recorded series
            for expr in panel_queries(build_dashboard()):
                result = await prometheus.query(expr.replace("$slo", "nodes"))
                if "slo:" in expr and "ALERTS" not in expr:
                    assert result, expr

            zones = await remote.zone_counts(SPECS[0], now - 300, now)
            assert set(zones) == {"zone-a"}
            assert zones["zone-a"].error_ratio == pytest.approx(0.1, abs=0.01)
            covered = await remote.covered(SPECS[0], time.time())
            assert 3 <= covered <= 60
        finally:
            scraping.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await scraping
            await scraper.close()
            await remote.close()
            await embedded.close()
