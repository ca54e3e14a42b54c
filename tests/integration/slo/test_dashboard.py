"""The dashboard in headless Chromium: SLO rows, the burn-down chart and per-zone numbers
render with the engine's numbers, offline (no CDN), and the page refreshes itself.
Screenshots land in test-artifacts/."""

from __future__ import annotations

import asyncio
import contextlib
import re
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from zonegate import conventions as cv
from zonegate.slo.alerts import AlertState, Transition
from zonegate.slo.app import ServeOptions, build_app
from zonegate.slo.charts import Annotation
from zonegate.slo.discovery import static_annotations
from zonegate.slo.loader import parse_slo_text
from zonegate.slo.store import SampleStore
from zonegate.slo.synthetic import constant, outage, running_totals

ARTIFACTS = Path(__file__).parents[3] / "test-artifacts"
DAY = 86400.0
START = 1_700_000_000.0
END = START + DAY
OUTAGE = END - 3 * 3600  # zone a fails completely for 30 minutes, three hours ago
SLOS = parse_slo_text(
    """
version: 1
slos:
  - name: checkout
    service: shop
    description: checkout answers without 5xx
    objective: 0.999
    sli: {kind: availability}
  - name: edge
    service: shop
    objective: 0.99
    sli: {kind: availability, source: edge}
"""
).slos
# 10 req/s (5 per zone) for a day; 5 req/s x 1800 s = 9000 bad of 864000:
# budget spent = (9000 / 864000) x (1 day / 30 days) / 0.1 % = 34.72 %, 65.28 % left
EXPECTED_REMAINING = 1 - (9000 / 864000) * (1 / 30) / 0.001


def seed(path: Path) -> None:
    store = SampleStore(path)
    for zone, errors in (("a", outage(OUTAGE, OUTAGE + 1800)), ("b", constant(0.0))):
        total, bad = running_totals(START, END, 300, 5.0, errors)
        ok = [(t, tot - b) for (t, tot), (_, b) in zip(total, bad, strict=True)]
        store.import_series((cv.NODE_REQUESTS_TOTAL, (("status_class", "2xx"), ("zone", zone))), ok)
        store.import_series(
            (cv.NODE_REQUESTS_TOTAL, (("status_class", "5xx"), ("zone", zone))), bad
        )
    store.record_transitions(
        [
            Transition(
                "checkout",
                "page",
                AlertState.INACTIVE,
                AlertState.FIRING,
                OUTAGE + 60,
                OUTAGE + 60,
                980.0,
                ("14.4x 1h/5m",),
            ),
            Transition(
                "checkout",
                "page",
                AlertState.FIRING,
                AlertState.RESOLVED,
                OUTAGE + 2100,
                OUTAGE + 60,
                3.0,
                (),
            ),
        ]
    )
    store.close()


async def chromium(
    url: str, tmp: Path, screenshot: Path | None = None, budget_ms: int = 2500
) -> str:
    """Run headless Chromium on a thread (the server under test shares this loop)."""
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    assert binary, "chromium is missing: apt-get install chromium (Makefile SYSTEM_PACKAGES)"
    args = [
        binary,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--hide-scrollbars",
        f"--user-data-dir={tmp / 'chromium'}",
        f"--virtual-time-budget={budget_ms}",
        "--window-size=1280,1900",
    ]
    args += [f"--screenshot={screenshot}"] if screenshot else ["--dump-dom"]
    proc = await asyncio.create_subprocess_exec(
        *args, url, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout=90)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0, err.decode()[-2000:]
    text: str = out.decode()
    return text


@contextlib.asynccontextmanager
async def dashboard(tmp: Path, refresh_s: float = 10.0) -> AsyncIterator[str]:
    db = tmp / "slo.db"
    if not db.exists():
        seed(db)
    notes = [Annotation(OUTAGE, "drill: zone a loss", end=OUTAGE + 1800, kind="drill")]
    options = ServeOptions(
        specs=SLOS,
        db_path=db,
        evaluate=False,
        refresh_s=refresh_s,
        annotations=static_annotations(notes),
        clock=lambda: END,
    )
    runner = web.AppRunner(build_app(options))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


def attr(dom: str, pattern: str) -> str:
    match = re.search(pattern, dom, re.S)
    assert match, pattern
    return match.group(1)


@pytest.mark.timeout(120)
async def test_overview_rows_and_numbers(tmp_path: Path) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    async with dashboard(tmp_path) as url:
        dom = await chromium(url + "/", tmp_path)
        await chromium(url + "/", tmp_path, ARTIFACTS / "slo-overview.png")
    rows = re.findall(r"<tr class=\"slo-row health-(\w+)\" data-slo=\"([\w-]+)\"", dom)
    assert rows == [("warning", "checkout"), ("no_data", "edge")]
    checkout = attr(dom, r'data-slo="checkout"(.*?)</tr>')
    budget = float(attr(checkout, r'class="num budget" data-value="([\d.]+)"'))
    assert budget == pytest.approx(EXPECTED_REMAINING, abs=1e-6)
    assert f"{EXPECTED_REMAINING * 100:.1f}%" in checkout  # 65.3%
    assert "28.2 min" in checkout  # 65.28 % of 43.2 budget minutes
    assert f"{(1 - 9000 / 864000) * 100:.3f}%" in checkout  # SLI 98.958%
    assert 'data-severity="ticket" data-state="firing"' in checkout  # 3d/6h ticket row
    assert 'data-severity="page" data-state="inactive"' in checkout
    edge = attr(dom, r'data-slo="edge"(.*?)</tr>')
    assert "not enough data" in edge
    assert (ARTIFACTS / "slo-overview.png").stat().st_size > 10_000


@pytest.mark.timeout(120)
async def test_slo_page_charts_zones_alerts_and_refresh(tmp_path: Path) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    async with dashboard(tmp_path, refresh_s=1) as url:
        dom = await chromium(url + "/slo/checkout", tmp_path)
        await chromium(url + "/slo/checkout", tmp_path, ARTIFACTS / "slo-checkout.png")
        missing = await chromium(url + "/slo/nope", tmp_path)
    burn_down = attr(dom, r'(<svg id="burn-down".*?</svg>)')
    final = float(attr(burn_down, r'data-final-remaining="([\d.]+)"'))
    assert final == pytest.approx(EXPECTED_REMAINING, abs=1e-6)
    assert f"{EXPECTED_REMAINING * 100:.1f}% left" in burn_down
    points = attr(burn_down, r'<polyline class="series budget" points="([^"]+)"').split()
    assert len(points) == 60
    ys = [float(p.split(",")[1]) for p in points]
    assert ys[0] < ys[-1]  # remaining budget falls (y grows downwards) at the outage
    assert "drill: zone a loss" in burn_down  # the annotation is drawn on the chart
    assert 'class="annotation"' in attr(dom, r'(<svg id="burn-rate".*?</svg>)')

    zones = dict(re.findall(r'data-zone="(\w)"><td>\w</td><td class="num">([\d.]+)%', dom))
    assert zones == {"a": f"{(1 - 9000 / 432000) * 100:.3f}", "b": "100.000"}
    windows = dict(
        re.findall(r'class="burn-window" data-window="(\w+)" data-value="([\d.]*)"', dom)
    )
    assert float(windows["6h"]) == pytest.approx(9000 / (6 * 3600 * 10) / 0.001)
    assert float(windows["1h"]) == 0.0
    events = re.findall(r'class="alert-event" data-severity="(\w+)" data-state="(\w+)"', dom)
    assert ("page", "firing") in events and ("page", "resolved") in events
    assert ("ticket", "firing") in events
    assert 'id="alert-timeline"' in dom and 'class="lane-firing"' in dom
    # the page refreshed itself through the engine-served script (no CDN)
    assert re.search(r'<body data-refreshed="\d+"', dom)
    assert "slo_not_found" not in missing and "no SLO named 'nope'" in missing
    assert (ARTIFACTS / "slo-checkout.png").stat().st_size > 10_000
