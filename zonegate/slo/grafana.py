"""A Grafana dashboard over the generated recording rules (``zonegate slo grafana``).

It works for every SLO the rules describe (a ``$slo`` variable over
``slo:objective:ratio``), needs only a Prometheus data source, and uses the
same names as :mod:`zonegate.slo.rules` (both import the conventions).
"""

from __future__ import annotations

import json
from typing import Any

from zonegate import conventions as cv
from zonegate.slo.windows import default_windows

UID = "zonegate-slo"
DS = {"type": "prometheus", "uid": "${datasource}"}
SEL = f'{cv.LABEL_SLO}="$slo"'


def _target(expr: str, legend: str = "", ref: str = "A", **extra: Any) -> dict[str, Any]:
    return {"datasource": DS, "expr": expr, "legendFormat": legend, "refId": ref, **extra}


def _stat(
    pid: int,
    title: str,
    expr: str,
    unit: str,
    pos: tuple[int, int, int, int],
    steps: list[tuple[str, float | None]] | None = None,
    decimals: int = 3,
) -> dict[str, Any]:
    x, y, w, h = pos
    return {
        "id": pid,
        "type": "stat",
        "title": title,
        "datasource": DS,
        "gridPos": {"x": x, "y": y, "w": w, "h": h},
        "targets": [_target(expr, instant=True)],
        "options": {"reduceOptions": {"calcs": ["lastNotNull"]}, "colorMode": "background"},
        "fieldConfig": {
            "defaults": {
                "unit": unit,
                "decimals": decimals,
                "thresholds": {
                    "mode": "absolute",
                    "steps": [{"color": c, "value": v} for c, v in (steps or [("blue", None)])],
                },
            },
            "overrides": [],
        },
    }


def _timeseries(
    pid: int,
    title: str,
    targets: list[dict[str, Any]],
    unit: str,
    pos: tuple[int, int, int, int],
    thresholds: list[tuple[str, float | None]] | None = None,
    log: bool = False,
) -> dict[str, Any]:
    x, y, w, h = pos
    custom: dict[str, Any] = {"lineWidth": 2, "fillOpacity": 5}
    if thresholds:
        custom["thresholdsStyle"] = {"mode": "dashed"}
    if log:
        custom["scaleDistribution"] = {"type": "log", "log": 10}
    return {
        "id": pid,
        "type": "timeseries",
        "title": title,
        "datasource": DS,
        "gridPos": {"x": x, "y": y, "w": w, "h": h},
        "targets": targets,
        "fieldConfig": {
            "defaults": {
                "unit": unit,
                "custom": custom,
                "thresholds": {
                    "mode": "absolute",
                    "steps": [
                        {"color": c, "value": v} for c, v in (thresholds or [("green", None)])
                    ],
                },
            },
            "overrides": [],
        },
        "options": {"legend": {"displayMode": "table", "placement": "right"}},
    }


def panel_queries(dashboard: dict[str, Any]) -> list[str]:
    """Every PromQL expression of the dashboard (for checks against a real Prometheus)."""
    return [t["expr"] for p in dashboard["panels"] for t in p.get("targets", []) if "expr" in t]


def build_dashboard() -> dict[str, Any]:
    budget = f"{cv.SLO_RECORD_ERROR_BUDGET}{{{SEL}}}"
    remaining = f"{cv.SLO_RECORD_BUDGET_REMAINING}{{{SEL}}}"
    period_burn = f"{cv.SLO_RECORD_PERIOD_BURN}{{{SEL}}}"
    days = f"{cv.SLO_RECORD_PERIOD_DAYS}{{{SEL}}}"
    on = f"on ({cv.LABEL_SLO})"
    rows = sorted({w.burn_rate for w in default_windows()}, reverse=True)
    burn_steps: list[tuple[str, float | None]] = [("green", None)] + [
        ("orange" if r < 6 else "red", r) for r in sorted(rows)
    ]
    panels = [
        _stat(
            1,
            "SLI over the SLO window",
            f"1 - ({period_burn} * {on} {budget})",
            "percentunit",
            (0, 0, 5, 4),
            [("red", None), ("green", 0.0)],
        ),
        _stat(2, "Objective", f"{cv.SLO_RECORD_OBJECTIVE}{{{SEL}}}", "percentunit", (5, 0, 4, 4)),
        _stat(
            3,
            "Error budget remaining",
            remaining,
            "percentunit",
            (9, 0, 5, 4),
            [("red", None), ("orange", 0.0), ("green", 0.25)],
            decimals=1,
        ),
        _stat(
            4,
            "Budget remaining (minutes of full outage)",
            f"{remaining} * {on} {budget} * {on} {days} * 1440",
            "m",
            (14, 0, 5, 4),
            [("red", None), ("green", 0.0)],
            decimals=1,
        ),
        _stat(
            5,
            "Current burn rate",
            f"{cv.SLO_RECORD_CURRENT_BURN}{{{SEL}}}",
            "x",
            (19, 0, 5, 4),
            burn_steps,
            decimals=2,
        ),
        _timeseries(
            6,
            "Error budget remaining (burn-down)",
            [_target(remaining, "{{slo}}")],
            "percentunit",
            (0, 4, 12, 8),
            [("red", None), ("transparent", 0.0)],
        ),
        _timeseries(
            7,
            "Burn rate per window",
            [_target(f'{{__name__=~"{cv.SLO_RECORD_BURN_RATE}.+", {SEL}}}', "{{slo_window}}")],
            "x",
            (12, 4, 12, 8),
            burn_steps,
            log=True,
        ),
        _timeseries(
            8,
            "Error ratio",
            [
                _target(f"{cv.SLO_RECORD_SLI_ERROR}5m{{{SEL}}}", "5m", "A"),
                _target(f"{cv.SLO_RECORD_SLI_ERROR}1h{{{SEL}}}", "1h", "B"),
            ],
            "percentunit",
            (0, 12, 12, 8),
        ),
        _timeseries(
            9,
            "Events per second",
            [_target(f"{cv.SLO_RECORD_EVENTS}5m{{{SEL}}} / 300", "{{slo}}")],
            "reqps",
            (12, 12, 12, 8),
        ),
        {
            "id": 10,
            "type": "table",
            "title": "All SLOs",
            "datasource": DS,
            "gridPos": {"x": 0, "y": 20, "w": 16, "h": 8},
            "targets": [
                _target(f"{cv.SLO_RECORD_BUDGET_REMAINING}", ref="A", instant=True, format="table"),
                _target(f"{cv.SLO_RECORD_CURRENT_BURN}", ref="B", instant=True, format="table"),
            ],
            "transformations": [
                {"id": "merge", "options": {}},
                {
                    "id": "organize",
                    "options": {
                        "excludeByName": {"Time": True},
                        "renameByName": {
                            "Value #A": "budget remaining",
                            "Value #B": "current burn",
                        },
                    },
                },
            ],
            "fieldConfig": {"defaults": {"decimals": 3}, "overrides": []},
        },
        {
            "id": 11,
            "type": "alertlist",
            "title": "SLO alerts",
            "gridPos": {"x": 16, "y": 20, "w": 8, "h": 8},
            "options": {
                "alertName": cv.SLO_ALERT_NAME,
                "stateFilter": {"firing": True, "pending": True},
            },
        },
    ]
    return {
        "uid": UID,
        "title": "zonegate SLOs",
        "tags": ["zonegate", "slo"],
        "timezone": "utc",
        "schemaVersion": 38,
        "version": 1,
        "editable": True,
        "refresh": "30s",
        "time": {"from": "now-7d", "to": "now"},
        "templating": {
            "list": [
                {
                    "name": "datasource",
                    "type": "datasource",
                    "query": "prometheus",
                    "label": "Prometheus",
                },
                {
                    "name": "slo",
                    "type": "query",
                    "label": "SLO",
                    "datasource": DS,
                    "query": {
                        "query": f"label_values({cv.SLO_RECORD_OBJECTIVE}, {cv.LABEL_SLO})",
                        "refId": "slo",
                    },
                    "definition": f"label_values({cv.SLO_RECORD_OBJECTIVE}, {cv.LABEL_SLO})",
                    "refresh": 2,
                    "sort": 1,
                },
            ]
        },
        "annotations": {
            "list": [
                {
                    "name": "SLO alerts",
                    "datasource": DS,
                    "enable": True,
                    "iconColor": "red",
                    "expr": f'ALERTS{{alertname="{cv.SLO_ALERT_NAME}", {SEL}, '
                    'alertstate="firing"}',
                    "titleFormat": "{{severity}} alert",
                    "step": "60s",
                }
            ]
        },
        "panels": panels,
    }


def render_dashboard() -> str:
    return json.dumps(build_dashboard(), indent=2, sort_keys=False) + "\n"
