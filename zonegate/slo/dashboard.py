"""HTML pages of the SLO dashboard (pure rendering; the handlers live in :mod:`app`)."""

from __future__ import annotations

import html
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from zonegate.slo.alerts import AlertState, Transition
from zonegate.slo.charts import Annotation, bar_chart, burn_down_chart, burn_rate_chart
from zonegate.slo.durations import format_duration, human_duration
from zonegate.slo.spec import SLOSpec
from zonegate.slo.status import SLOStatus
from zonegate.slo.windows import SEVERITIES


def _esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def pct(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value * 100:.{digits}f}%"


def rate(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3g}x"


def when(ts: float | None) -> str:
    return "" if ts is None else time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(ts))


def page(title: str, body: str, refresh_s: float, note: str = "") -> str:
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{_esc(title)} · zonegate SLOs</title>"
        "<link rel='stylesheet' href='/static/dashboard.css'>"
        f"<noscript><meta http-equiv='refresh' content='{int(refresh_s)}'></noscript>"
        "</head><body>"
        "<header><h1><a href='/'>zonegate SLOs</a></h1>"
        f"<span class='meta'>{_esc(note)}</span></header>"
        f"<main>{body}</main>"
        f"<script src='/static/dashboard.js' data-refresh='{refresh_s:g}'></script>"
        "</body></html>"
    )


def _alert_cells(status: SLOStatus) -> str:
    parts = []
    for severity in SEVERITIES:
        state = status.alerts.get(severity, AlertState.INACTIVE)
        parts.append(
            f"<span class='state-{state}' data-severity='{severity}' data-state='{state}'>"
            f"{severity}: {state}</span>"
        )
    return " · ".join(parts)


def overview(statuses: Sequence[SLOStatus], specs: Mapping[str, SLOSpec]) -> str:
    """All SLOs: status colour, SLI vs objective, budget remaining, fastest burn, alerts."""
    rows = []
    for s in statuses:
        remaining = max(0.0, min(1.0, s.budget.remaining))
        fastest = s.fastest
        fast_text = (
            "not enough data"
            if fastest is None
            else f"{rate(fastest.burn_rate)} ({format_duration(fastest.window_s)})"
        )
        sli_text = pct(s.sli) if s.enough_data else "not enough data"
        rows.append(
            f"<tr class='slo-row health-{s.health}' data-slo='{_esc(s.name)}' "
            f"data-health='{s.health}'>"
            f"<td><span class='dot' title='{s.health}'></span>"
            f"<a href='/slo/{_esc(s.name)}'>{_esc(s.name)}</a></td>"
            f"<td>{_esc(s.service)}</td>"
            f"<td class='num sli' data-value='{'' if s.sli is None else s.sli}'>{sli_text}</td>"
            f"<td class='num objective' data-value='{s.objective}'>{pct(s.objective, 2)}</td>"
            f"<td class='num budget' data-value='{s.budget.remaining:.6f}'>"
            f"<span class='budgetbar'><span style='width:{remaining * 100:.1f}%'></span></span>"
            f"{pct(s.budget.remaining, 1)} · {s.budget.remaining_minutes:.1f} min</td>"
            f"<td class='num fastest' data-value='{'' if fastest is None else fastest.burn_rate}'>"
            f"{fast_text}</td>"
            f"<td class='alerts'>{_alert_cells(s)}</td></tr>"
        )
    if not rows:
        rows.append("<tr><td colspan='7'>no SLOs configured</td></tr>")
    window_note = ", ".join(sorted({specs[s.name].window for s in statuses if s.name in specs}))
    return (
        "<h2>Service level objectives</h2>"
        f"<p class='meta'>rolling windows: {_esc(window_note or 'n/a')}</p>"
        "<table id='slos'><thead><tr><th>SLO</th><th>service</th><th class='num'>SLI</th>"
        "<th class='num'>objective</th><th class='num'>error budget left</th>"
        "<th class='num'>fastest burn</th><th>alerts</th></tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table>"
    )


@dataclass
class DetailData:
    status: SLOStatus
    spec: SLOSpec
    burn_down: list[tuple[float, float]]
    burn_history: list[tuple[float, float | None]]
    zones: Mapping[str, Mapping[str, Any]]
    history: list[Transition]
    annotations: list[Annotation] = field(default_factory=list)


def _stat(label: str, value: str, key: str) -> str:
    return (
        f"<div class='stat' data-stat='{key}'><div class='label'>{_esc(label)}</div>"
        f"<div class='value'>{_esc(value)}</div></div>"
    )


def _timeline(history: Sequence[Transition], start: float, end: float) -> str:
    """Lanes per severity with the pending/firing intervals, then the transitions."""
    width, lane = 760, 22
    span = max(end - start, 1.0)
    body = []
    for i, severity in enumerate(SEVERITIES):
        y = 4 + i * lane
        body.append(f"<text x='4' y='{y + 14}' class='tick'>{severity}</text>")
        opened: tuple[float, AlertState] | None = None
        events = [t for t in history if t.severity == severity] + [None]
        for t in events:
            at = end if t is None else t.at
            if opened is not None and opened[1] in (AlertState.PENDING, AlertState.FIRING):
                x0 = 60 + (width - 70) * max(0.0, (opened[0] - start) / span)
                x1 = 60 + (width - 70) * min(1.0, (at - start) / span)
                body.append(
                    f"<rect class='lane-{opened[1]}' x='{x0:.1f}' y='{y + 3}' "
                    f"width='{max(x1 - x0, 1.5):.1f}' height='{lane - 8}'/>"
                )
            if t is not None:
                opened = (t.at, t.state)
    svg = (
        f"<svg id='alert-timeline' class='chart' viewBox='0 0 {width} {4 + lane * 2 + 4}'>"
        + "".join(body)
        + "</svg>"
    )
    rows = "".join(
        f"<tr class='alert-event' data-severity='{t.severity}' data-state='{t.state}'>"
        f"<td>{when(t.at)}</td><td>{t.severity}</td>"
        f"<td class='state-{t.state}'>{t.previous} → {t.state}</td>"
        f"<td class='num'>{rate(t.burn_rate)}</td><td>{_esc(', '.join(t.windows))}</td></tr>"
        for t in reversed(history[-50:])
    )
    table = (
        "<table id='alert-history'><thead><tr><th>time</th><th>severity</th><th>change</th>"
        "<th class='num'>burn</th><th>windows</th></tr></thead><tbody>"
        + (rows or "<tr><td colspan='5'>no alerts in this window</td></tr>")
        + "</tbody></table>"
    )
    return svg + table


def detail(data: DetailData) -> str:
    """One SLO: numbers, burn-down, burn rates per window and over time, alerts, zones."""
    s, spec = data.status, data.spec
    b = s.budget
    tte = (
        "not burning" if s.time_to_exhaustion_s is None else human_duration(s.time_to_exhaustion_s)
    )
    stats = "".join(
        [
            _stat("SLI", pct(s.sli), "sli"),
            _stat("objective", pct(s.objective, 2), "objective"),
            _stat(
                "budget left", f"{pct(b.remaining, 1)} ({b.remaining_minutes:.1f} min)", "remaining"
            ),
            _stat(
                "budget spent",
                f"{pct(b.consumed, 1)} ({b.consumed_minutes:.1f} of {b.total_minutes:.1f} min)",
                "consumed",
            ),
            _stat("current burn", rate(s.current_burn), "current-burn"),
            _stat("exhausted in", tte, "exhaustion"),
        ]
    )
    notice = (
        ""
        if s.enough_data
        else f"<p class='notice' id='not-enough-data'>not enough data: fewer than "
        f"{spec.alerting.min_events} events in the window; alerts stay silent</p>"
    )
    thresholds = [(w.burn_rate, f"{w.severity} {w.burn_rate:g}x") for w in spec.alerting.windows]
    burn_rows = "".join(
        f"<tr class='burn-window' data-window='{format_duration(w.window_s)}' "
        f"data-value='{'' if w.burn_rate is None else w.burn_rate}'>"
        f"<td>{format_duration(w.window_s)}</td><td class='num'>{rate(w.burn_rate)}</td>"
        f"<td class='num'>{pct(w.counts.error_ratio)}</td>"
        f"<td class='num'>{w.counts.bad:.0f} / {w.counts.total:.0f}</td>"
        f"<td>{'' if w.enough_data else 'not enough data'}</td></tr>"
        for w in s.burns
    )
    bars = bar_chart(
        "burn-windows", [(format_duration(w.window_s), w.burn_rate) for w in s.burns], 1.0
    )
    zone_rows = "".join(
        f"<tr class='zone-row' data-zone='{_esc(zone)}'><td>{_esc(zone)}</td>"
        f"<td class='num'>{pct(z.get('sli'))}</td><td class='num'>{rate(z.get('burn_rate'))}</td>"
        f"<td class='num'>{z.get('bad', 0):.0f} / {z.get('total', 0):.0f}</td></tr>"
        for zone, z in data.zones.items()
    )
    notes = "".join(
        f"<li data-at='{a.at}'>{when(a.at)}: {_esc(a.text)}</li>" for a in data.annotations
    )
    history_start = data.burn_history[0][0] if data.burn_history else s.at
    return (
        f"<h2><span class='badge health-{s.health}' id='health'>{s.health}</span> "
        f"{_esc(spec.name)}</h2><p class='meta'>{_esc(spec.description)} · service "
        f"{_esc(spec.service)} · {_esc(spec.sli.kind)} on {_esc(spec.sli.source)} · "
        f"{pct(spec.objective, 2)} over {_esc(spec.window)} · evaluated {when(s.at)}</p>"
        f"{notice}<div class='stats'>{stats}</div>"
        "<h3>Error budget burn-down</h3>"
        + burn_down_chart(
            data.burn_down,
            s.at - (b.covered_s or s.window_s),
            s.at,
            data.annotations,
        )
        + "<h3>Burn rate per alert window</h3>"
        + bars
        + "<table id='burn-rates'><thead><tr><th>window</th><th class='num'>burn rate</th>"
        "<th class='num'>error ratio</th><th class='num'>bad / total</th><th></th></tr></thead>"
        f"<tbody>{burn_rows}</tbody></table>"
        "<h3>Burn rate over time</h3>"
        + burn_rate_chart(data.burn_history, thresholds, data.annotations)
        + "<h3>Alerts</h3>"
        + _timeline(data.history, min(history_start, s.at - 86400), s.at)
        + "<h3>Per zone</h3><table id='zones'><thead><tr><th>zone</th><th class='num'>SLI</th>"
        "<th class='num'>burn rate</th><th class='num'>bad / total</th></tr></thead><tbody>"
        + (zone_rows or "<tr><td colspan='4'>no per-zone data</td></tr>")
        + "</tbody></table>"
        + (f"<h3>Drill annotations</h3><ul id='annotations'>{notes}</ul>" if notes else "")
    )
