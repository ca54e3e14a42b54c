"""The embedded scraper against real HTTP /metrics servers (prometheus_client registries):
counts under traffic, node restarts, nodes going away, and the engine's own restart."""

from __future__ import annotations

from pathlib import Path

from zonegate.slo.exposition import wanted_for
from zonegate.slo.loader import parse_slo_text
from zonegate.slo.metrics_server import MetricsServer
from zonegate.slo.scraper import Scraper, ScrapeTarget, static_targets
from zonegate.slo.sources import EmbeddedSource
from zonegate.slo.store import SampleStore

SPECS = parse_slo_text(
    """
version: 1
slos:
  - {name: nodes, service: gw, objective: 0.99, sli: {kind: availability}}
  - {name: zone-a, service: gw, objective: 0.99, sli: {kind: availability, zone: a}}
  - {name: fast, service: gw, objective: 0.99, sli: {kind: latency, threshold: 0.25}}
  - {name: edge, service: gw, objective: 0.999, sli: {kind: availability, source: edge}}
"""
).slos
NODES, ZONE_A, FAST, EDGE = SPECS


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def make(path: Path, servers: list[MetricsServer], clock: Clock) -> tuple[Scraper, EmbeddedSource]:
    source = EmbeddedSource(SampleStore(path))
    urls = [s.url for s in servers]
    return Scraper(source, static_targets(urls), wanted_for(SPECS), clock=clock), source


async def test_counts_under_traffic_restarts_and_departures(
    tmp_path: Path, metrics_servers: list[MetricsServer]
) -> None:
    a, b, glb = metrics_servers
    clock = Clock()
    a.record(200, 500)  # history before the engine ever looked: not counted
    scraper, source = make(tmp_path / "slo.db", metrics_servers, clock)
    first = await scraper.scrape_once()
    assert sorted(first.ok) == sorted(s.url for s in metrics_servers) and not first.failed
    start = clock.now

    clock.now += 5
    a.record(200, 90)
    a.record(503, 10)
    b.record(200, 50, seconds=0.4)  # slow
    glb.record(200, 99)
    glb.record(502, 1)
    await scraper.scrape_once()

    clock.now += 5
    a.restart()  # the node restarted: its counters start from zero
    a.record(200, 20)
    a.record(500, 5)
    await scraper.scrape_once()

    counts = await source.counts(NODES, start, clock.now)
    assert (counts.bad, counts.total) == (15, 175)
    zone_a = await source.counts(ZONE_A, start, clock.now)
    assert (zone_a.bad, zone_a.total) == (15, 125)
    fast = await source.counts(FAST, start, clock.now)
    assert (fast.bad, fast.total) == (50, 175)  # b's 50 requests took 0.4 s > 0.25 s
    edge = await source.counts(EDGE, start, clock.now)
    assert (edge.bad, edge.total) == (1, 100)
    zones = await source.zone_counts(NODES, start, clock.now)
    assert {z: (c.bad, c.total) for z, c in zones.items()} == {"a": (15, 125), "b": (0, 50)}

    # node b goes away: its failure is recorded, the others keep being counted
    await b.stop()
    clock.now += 5
    a.record(200, 10)
    cycle = await scraper.scrape_once()
    assert b.url in cycle.failed and a.url in cycle.ok
    counts = await source.counts(NODES, start, clock.now)
    assert (counts.bad, counts.total) == (15, 185)
    health = dict((t, err) for t, _, err, _ in source.store.target_health())
    assert health[b.url] is not None and health[a.url] is None
    await scraper.close()
    await source.close()


async def test_history_survives_an_engine_restart(
    tmp_path: Path, metrics_servers: list[MetricsServer]
) -> None:
    a = metrics_servers[0]
    clock = Clock()
    scraper, source = make(tmp_path / "slo.db", [a], clock)
    await scraper.scrape_once()
    start = clock.now
    for _ in range(3):
        clock.now += 5
        a.record(200, 30)
        a.record(500, 3)
        await scraper.scrape_once()
    await scraper.close()
    await source.close()
    source.store.close()

    a.record(200, 7)  # while the engine is down
    clock.now += 60
    scraper, source = make(tmp_path / "slo.db", [a], clock)
    await scraper.scrape_once()
    counts = await source.counts(NODES, start, clock.now)
    assert (counts.bad, counts.total) == (9, 106)
    # history starts with the first scrape that saw a request counter (start + 5)
    assert await source.covered(NODES, clock.now) == clock.now - (start + 5)
    await scraper.close()
    await source.close()


async def test_bad_targets_do_not_stop_the_cycle(
    tmp_path: Path, metrics_servers: list[MetricsServer]
) -> None:
    a = metrics_servers[0]
    a.status = 503
    clock = Clock()
    source = EmbeddedSource(SampleStore(tmp_path / "slo.db"))

    async def targets() -> list[ScrapeTarget]:
        return [ScrapeTarget(a.url, "node-a"), ScrapeTarget("http://127.0.0.1:9/metrics", "gone")]

    scraper = Scraper(source, targets, wanted_for(SPECS), clock=clock, timeout_s=2)
    cycle = await scraper.scrape_once()
    assert cycle.failed["node-a"] == "HTTP 503"
    assert "gone" in cycle.failed and not cycle.ok

    async def broken() -> list[ScrapeTarget]:
        raise ConnectionError("etcd down")

    scraper.targets = broken
    assert (await scraper.scrape_once()).ok == []
    await scraper.close()
    await source.close()
