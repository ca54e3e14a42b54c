"""SLO engine benchmarks.

- evaluation: 100 SLOs over 30 days of 1-minute samples (43,200 per series),
  every window of the workbook table plus the 30-day window, alert state
  machines included. Pure in-memory path and the SQLite store path (stored
  at the store's own downsampled resolution). Target: < 1 s per evaluation.
- scrape cost: the embedded scraper reading 12 node /metrics endpoints (served
  by another process under synthetic traffic) every 5 s into SQLite; CPU of
  the scraping process / wall time. Target: < 5 % of one core.

Run: ``.venv/bin/python bench/slo.py`` (``--json`` for machine output,
``--scrape-seconds`` to measure longer).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import json
import os
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from zonegate import conventions as cv
from zonegate.slo.counters import CumulativeSeries, SummedSeries
from zonegate.slo.engine import SLOEngine
from zonegate.slo.evaluation import AlertBook, SeriesPair, evaluate_memory
from zonegate.slo.exposition import wanted_for
from zonegate.slo.loader import parse_slo_text
from zonegate.slo.scraper import Scraper, static_targets
from zonegate.slo.sources import EmbeddedSource
from zonegate.slo.spec import SLOSpec
from zonegate.slo.store import DOWNSAMPLE_TIERS, SampleStore
from zonegate.slo.synthetic import outage, running_totals

DAY = 86400.0
N_SLOS = 100


def specs(n: int = N_SLOS) -> list[SLOSpec]:
    lines = ["version: 1", "slos:"]
    for i in range(n):
        lines.append(
            f"  - {{name: slo-{i}, service: svc-{i % 10}, objective: 0.999, "
            f"sli: {{kind: availability, route: route-{i}}}}}"
        )
    return parse_slo_text("\n".join(lines)).slos


SHAPES = 10
"""distinct 30-day histories (outage on a different day); SLO i uses shape i % SHAPES"""


@functools.cache
def series_points(shape: int, now: float) -> tuple[list[tuple[float, float]], ...]:
    """30 days of 1-minute running totals at 10 req/s, 0.05 % errors, and one 30-minute
    half outage: ``(total, bad)``."""
    start = now - 30 * DAY
    cut = start + (shape * 7919 % 29) * DAY
    errors = outage(cut, cut + 1800, 0.5, 0.0005)
    total, bad = running_totals(start, now, 60.0, 10.0, errors)
    return total, bad


def bench_memory(slos: list[SLOSpec], now: float) -> dict[str, Any]:
    series: dict[str, SeriesPair] = {}
    samples = 0
    for i, spec in enumerate(slos):
        total, bad = series_points(i % SHAPES, now)
        samples += len(total) + len(bad)
        series[spec.name] = SeriesPair(
            SummedSeries([CumulativeSeries.from_cumulative(*zip(*bad, strict=True))]),
            SummedSeries([CumulativeSeries.from_cumulative(*zip(*total, strict=True))]),
        )
    book = AlertBook()
    times = []
    for _ in range(5):
        t0 = time.perf_counter()
        statuses, _ = evaluate_memory(slos, series, book, lambda: now)
        times.append(time.perf_counter() - t0)
    assert len(statuses) == len(slos)
    return {"path": "in-memory", "samples": samples, "seconds": min(times)}


@functools.cache
def stored(shape: int, now: float) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
    """``(ok, bad)`` as the store keeps them after downsampling."""
    total, bad = series_points(shape, now)
    ok = [(t, tot - b) for (t, tot), (_, b) in zip(total, bad, strict=True)]
    return tiered(ok, now), tiered(bad, now)


def tiered(points: list[tuple[float, float]], now: float) -> list[tuple[float, float]]:
    """Keep what the store keeps after downsampling (last sample per tier bucket)."""
    out: dict[tuple[float, int], tuple[float, float]] = {}
    for t, v in points:
        age = now - t
        step = next((s for limit, s in reversed(DOWNSAMPLE_TIERS) if age >= limit), 0.0)
        key = (step, int(-(-t // step)) if step else int(t * 1000))
        out[key] = (t, v)
    return sorted(out.values())


async def bench_store(slos: list[SLOSpec], now: float, workdir: Path) -> dict[str, Any]:
    store = SampleStore(workdir / "bench.db")
    rows = 0
    for i, spec in enumerate(slos):
        route = spec.sli.route or ""
        for status, kept in zip(("2xx", "5xx"), stored(i % SHAPES, now), strict=True):
            rows += len(kept)
            key = (cv.NODE_REQUESTS_TOTAL, (("route", route), ("status_class", status)))
            store.import_series(key, kept)
    source = EmbeddedSource(store)
    engine = SLOEngine(slos, source, source, clock=lambda: now)
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        statuses = await engine.evaluate_once()
        times.append(time.perf_counter() - t0)
    assert len(statuses) == len(slos)
    await source.close()
    store.close()
    return {"path": "SQLite store", "samples": rows, "seconds": min(times)}


async def bench_scrape(seconds: float, targets: int, workdir: Path) -> dict[str, Any]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "zonegate.slo.metrics_server", "--count", str(targets),
        stdout=asyncio.subprocess.PIPE, start_new_session=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), 30)
        urls = json.loads(line)["urls"]
        store = SampleStore(workdir / "scrape.db")
        source = EmbeddedSource(store)
        slos = specs(10)
        scraper = Scraper(source, static_targets(urls), wanted_for(slos), interval_s=5.0)
        await scraper.start()
        await scraper.scrape_once()  # warm up (connections, series rows)
        cpu0, wall0 = time.process_time(), time.perf_counter()
        cycles0 = scraper.cycles
        task = asyncio.create_task(scraper.run(), name="bench-scraper")
        await asyncio.sleep(seconds)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        last = scraper.last_cycle
        assert last is not None and not last.failed, last
        result = {
            "targets": len(urls),
            "cycles": scraper.cycles - cycles0,
            "wall_s": wall,
            "cpu_s": cpu,
            "cpu_percent": 100 * cpu / wall,
            "series": store.series_generation,
            "rows": store.sample_count(),
        }
        await scraper.close()
        await source.close()
        store.close()
        return result
    finally:
        if proc.returncode is None:
            os.killpg(proc.pid, signal.SIGTERM)
            await proc.wait()


async def run(args: argparse.Namespace) -> dict[str, Any]:
    slos = specs()
    now = 1_700_000_000.0
    with tempfile.TemporaryDirectory(prefix="zonegate-slo-bench-") as tmp:
        workdir = Path(tmp)
        memory = bench_memory(slos, now)
        store = await bench_store(slos, now, workdir)
        scrape = await bench_scrape(args.scrape_seconds, args.targets, workdir)
    return {"evaluation": [memory, store], "scrape": scrape}


def show(results: dict[str, Any]) -> None:
    table = Table(title="zonegate SLO engine")
    for column in ("benchmark", "workload", "result", "target", "ok"):
        table.add_column(column)
    for row in results["evaluation"]:
        table.add_row(
            f"evaluate ({row['path']})",
            f"{N_SLOS} SLOs x 30 d of 1-min samples ({row['samples']:,} samples), 8 windows",
            f"{row['seconds'] * 1000:.0f} ms",
            "< 1 s",
            "yes" if row["seconds"] < 1 else "NO",
        )
    s = results["scrape"]
    table.add_row(
        "scrape",
        f"{s['targets']} targets every 5 s, {s['cycles']} cycles in {s['wall_s']:.0f} s "
        f"({s['series']} series)",
        f"{s['cpu_percent']:.2f} % of one core",
        "< 5 %",
        "yes" if s["cpu_percent"] < 5 else "NO",
    )
    Console().print(table)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--scrape-seconds", type=float, default=30.0)
    parser.add_argument("--targets", type=int, default=12)
    args = parser.parse_args()
    results = asyncio.run(run(args))
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        show(results)
    ok = all(r["seconds"] < 1 for r in results["evaluation"])
    return 0 if ok and results["scrape"]["cpu_percent"] < 5 else 1


if __name__ == "__main__":
    sys.exit(main())
