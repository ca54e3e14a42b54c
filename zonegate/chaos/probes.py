"""Running probes: each returns a :class:`ProbeResult` (passed, measured value, detail)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from zonegate.chaos.context import DrillContext
from zonegate.chaos.guards import error_ratio, recent
from zonegate.chaos.observer import node_health
from zonegate.chaos.records import percentile
from zonegate.chaos.slo_link import engine_burn_rate
from zonegate.chaos.spec.probes import (
    BurnRateProbe,
    ClusterHealthyProbe,
    ErrorRateProbe,
    HttpProbe,
    LatencyProbe,
    MetricProbe,
    Probe,
    TrafficShareProbe,
)


@dataclass(frozen=True)
class ProbeResult:
    ok: bool
    value: float | None
    detail: str

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "value": self.value, "detail": self.detail}


async def run_probe(probe: Probe, ctx: DrillContext) -> ProbeResult:
    """Never raises for a failed check: a failed probe is a result, not an error."""
    try:
        if isinstance(probe, HttpProbe):
            return await _http(probe, ctx)
        if isinstance(probe, MetricProbe):
            return await _metric(probe, ctx)
        if isinstance(probe, ErrorRateProbe):
            return _error_rate(probe, ctx)
        if isinstance(probe, LatencyProbe):
            return _latency(probe, ctx)
        if isinstance(probe, BurnRateProbe):
            return await _burn_rate(probe, ctx)
        if isinstance(probe, TrafficShareProbe):
            return _traffic_share(probe, ctx)
        return await _cluster_healthy(probe, ctx)
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # a probe that cannot run fails, with the reason
        return ProbeResult(False, None, f"probe could not run: {type(exc).__name__}: {exc}")


async def _one_http(probe: HttpProbe, session: aiohttp.ClientSession) -> tuple[bool, str]:
    try:
        async with session.request(
            probe.method,
            probe.url,
            headers=probe.headers,
            data=probe.body,
            timeout=aiohttp.ClientTimeout(total=probe.timeout_s),
        ) as response:
            text = await response.text(errors="replace")
            if response.status not in probe.expect_status:
                return False, f"status {response.status}"
            if probe.body_contains is not None and probe.body_contains not in text:
                return False, f"body lacks {probe.body_contains!r}"
            return True, f"status {response.status}"
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        return False, f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


async def _http(probe: HttpProbe, ctx: DrillContext) -> ProbeResult:
    outcomes = await asyncio.gather(*(_one_http(probe, ctx.session) for _ in range(probe.count)))
    good = sum(1 for ok, _ in outcomes if ok)
    ratio = good / probe.count
    failures = sorted({why for ok, why in outcomes if not ok})
    detail = f"{good}/{probe.count} as expected ({', '.join(map(str, probe.expect_status))})"
    if failures:
        detail += "; others: " + ", ".join(failures[:3])
    return ProbeResult(ratio >= probe.min_success_ratio, ratio, detail)


def aggregate(values: list[float], how: str) -> float | None:
    if how == "count":
        return float(len(values))
    if not values:
        return None
    if how == "sum":
        return sum(values)
    if how == "max":
        return max(values)
    if how == "min":
        return min(values)
    return sum(values) / len(values)


def metric_value(text: str, name: str, labels: dict[str, str], how: str) -> float | None:
    """Aggregate of the samples called ``name`` whose labels include ``labels``."""
    values = [
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items())
    ]
    return aggregate(values, how)


async def _metric(probe: MetricProbe, ctx: DrillContext) -> ProbeResult:
    async with ctx.session.get(
        probe.url, timeout=aiohttp.ClientTimeout(total=probe.timeout_s)
    ) as response:
        if response.status != 200:
            return ProbeResult(False, None, f"{probe.url} answered {response.status}")
        text = await response.text()
    value = metric_value(text, probe.name, probe.labels, probe.aggregate)
    if value is None:
        return ProbeResult(False, None, f"no sample {probe.name}{probe.labels or ''}")
    ok = probe.tolerance.contains(value)
    return ProbeResult(
        ok,
        value,
        f"{probe.aggregate}({probe.name}) = {value:g}, wanted {probe.tolerance.describe()}",
    )


def _error_rate(probe: ErrorRateProbe, ctx: DrillContext) -> ProbeResult:
    now = ctx.clock()
    window = recent(ctx.records, now - probe.window_s, now)
    if len(window) < probe.min_requests:
        return ProbeResult(
            False,
            None,
            f"only {len(window)} requests in {probe.window_s:g}s (need {probe.min_requests})",
        )
    ratio = error_ratio(window) or 0.0
    failed = sum(1 for r in window if r.failed)
    return ProbeResult(
        ratio <= probe.max,
        ratio,
        f"{failed}/{len(window)} failed over {probe.window_s:g}s "
        f"({ratio:.2%}, max {probe.max:.2%})",
    )


def _latency(probe: LatencyProbe, ctx: DrillContext) -> ProbeResult:
    now = ctx.clock()
    window = recent(ctx.records, now - probe.window_s, now)
    if len(window) < probe.min_requests:
        return ProbeResult(False, None, f"only {len(window)} requests in {probe.window_s:g}s")
    value = percentile([r.latency_ms for r in window], probe.percentile) or 0.0
    return ProbeResult(
        value <= probe.max_ms,
        value,
        f"p{probe.percentile:g} {value:.1f} ms over {probe.window_s:g}s (max {probe.max_ms:g})",
    )


def _traffic_share(probe: TrafficShareProbe, ctx: DrillContext) -> ProbeResult:
    now = ctx.clock()
    served = [r for r in recent(ctx.records, now - probe.window_s, now) if not r.failed]
    if len(served) < probe.min_requests:
        return ProbeResult(
            False, None, f"only {len(served)} answered requests in {probe.window_s:g}s"
        )
    share = sum(1 for r in served if r.zone == probe.zone) / len(served)
    return ProbeResult(
        probe.tolerance.contains(share),
        share,
        f"{probe.zone} served {share:.1%} over {probe.window_s:g}s "
        f"(wanted {probe.tolerance.describe()})",
    )


async def _burn_rate(probe: BurnRateProbe, ctx: DrillContext) -> ProbeResult:
    if probe.source == "slo_api":
        url = probe.slo_url or ctx.env.slo_url
        if not url:
            return ProbeResult(False, None, "source slo_api needs --slo-url or slo_url:")
        value = await engine_burn_rate(ctx.session, url, probe.slo, probe.window_s)
        if value is None:
            return ProbeResult(False, None, f"the SLO engine at {url} gave no burn rate")
    else:
        now = ctx.clock()
        window = recent(ctx.records, now - probe.window_s, now)
        ratio = error_ratio(window)
        if ratio is None:
            return ProbeResult(False, None, f"no requests in the last {probe.window_s:g}s")
        objective, _ = ctx.objectives(probe.slo, probe.objective)
        value = ratio / (1.0 - objective)
    return ProbeResult(
        value <= probe.max, value, f"{probe.slo} burn rate {value:.3g} (max {probe.max:g})"
    )


async def _cluster_healthy(probe: ClusterHealthyProbe, ctx: DrillContext) -> ProbeResult:
    async with ctx.session.get(probe.url, timeout=aiohttp.ClientTimeout(total=2.0)) as response:
        if response.status != 200:
            return ProbeResult(False, None, f"{probe.url} answered {response.status}")
        status = await response.json(content_type=None)
    health = node_health(status if isinstance(status, dict) else {})
    chosen = [h for zone, h in health.values() if probe.zone is None or zone == probe.zone]
    if not chosen:
        where = f"zone {probe.zone}" if probe.zone else "the cluster"
        return ProbeResult(False, None, f"the GLB knows no node of {where}")
    ratio = sum(chosen) / len(chosen)
    return ProbeResult(
        ratio >= probe.min_healthy_ratio,
        ratio,
        f"{sum(chosen)}/{len(chosen)} nodes healthy" + (f" in {probe.zone}" if probe.zone else ""),
    )
