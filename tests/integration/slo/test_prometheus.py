"""Generated rules in a real Prometheus scraping real /metrics servers: its recorded values
match the embedded engine's numbers, and the PromQL data source agrees with both."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

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
  - {name: fast, service: gw, objective: 0.9, sli: {kind: latency, threshold: 0.25}}
  - {name: edge, service: gw, objective: 0.999, sli: {kind: availability, source: edge}}
"""
).slos
EXPECTED_ERROR_RATIO = {"nodes": 0.05, "fast": 0.5, "edge": 0.05}


@contextlib.asynccontextmanager
async def traffic(servers: list[MetricsServer]) -> AsyncIterator[None]:
    a, b, glb = servers

    async def run() -> None:
        while True:
            a.record(200, 9, seconds=0.02)
            a.record(500, 1, seconds=0.02)
            b.record(200, 10, seconds=0.4)  # every request on b is slow
            glb.record(200, 19)
            glb.record(503, 1)
            await asyncio.sleep(0.05)

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
    tmp_path: object, metrics_servers: list[MetricsServer], prometheus: Prometheus
) -> None:
    store = SampleStore(":memory:")
    embedded = EmbeddedSource(store)
    scraper = Scraper(
        embedded,
        static_targets([s.url for s in metrics_servers]),
        wanted_for(SPECS),
        interval_s=0.5,
    )
    remote = PrometheusSource(prometheus.url)
    async with traffic(metrics_servers):
        scraping = asyncio.create_task(scraper.run(), name="slo-test-scraper")
        try:
            targets = [
                s.url.removeprefix("http://").removesuffix("/metrics") for s in metrics_servers
            ]
            await prometheus.start(targets, render_rules(SPECS))
            await wait_for_samples(prometheus, 'slo:sli_error:ratio_rate5m{slo="edge"}', 5)
            now = time.time()
            for spec in SPECS:
                recorded = await prometheus.query(
                    f'slo:sli_error:ratio_rate5m{{slo="{spec.name}"}}'
                )
                assert len(recorded) == 1, recorded
                prom_ratio = float(recorded[0]["value"][1])
                counts = await embedded.window_counts(spec, now, windows_needed(spec))
                engine_ratio = counts[300].error_ratio
                assert engine_ratio is not None
                expected = EXPECTED_ERROR_RATIO[spec.name]
                assert engine_ratio == pytest.approx(expected, abs=0.01), spec.name
                # Prometheus extrapolates each series to the window edges: a few % apart
                assert prom_ratio == pytest.approx(engine_ratio, rel=0.05, abs=0.005), spec.name

                status = compute_status(spec, now, counts, await embedded.covered(spec, now))
                burn = await prometheus.query(f'slo:current_burn_rate:ratio{{slo="{spec.name}"}}')
                assert float(burn[0]["value"][1]) == pytest.approx(status.current_burn, rel=0.1)
                budget = await prometheus.query(f'slo:error_budget:ratio{{slo="{spec.name}"}}')
                assert float(budget[0]["value"][1]) == pytest.approx(1 - spec.objective)

                # the PromQL data source computes the same from raw counters
                via_prom = await remote.window_counts(spec, now, [300])
                prom_source_ratio = via_prom[300].error_ratio
                assert prom_source_ratio == pytest.approx(engine_ratio, rel=0.05, abs=0.005)

            # every Grafana panel query is valid PromQL over the recorded series
            for expr in panel_queries(build_dashboard()):
                result = await prometheus.query(expr.replace("$slo", "nodes"))
                if "slo:" in expr and "ALERTS" not in expr:
                    assert result, expr

            zones = await remote.zone_counts(SPECS[0], now - 300, now)
            assert set(zones) == {"a", "b"}
            assert zones["a"].error_ratio == pytest.approx(0.1, abs=0.01)
            assert zones["b"].bad == 0
            covered = await remote.covered(SPECS[0], time.time())
            assert 3 <= covered <= 60
        finally:
            scraping.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await scraping
            await scraper.close()
            await remote.close()
            await embedded.close()
