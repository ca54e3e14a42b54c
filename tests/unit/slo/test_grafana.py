"""The Grafana dashboard reads only series the generated rules record."""

from __future__ import annotations

import json
import re
from pathlib import Path

from zonegate import conventions as cv
from zonegate.slo.grafana import build_dashboard, panel_queries, render_dashboard
from zonegate.slo.loader import builtin_slo_source, parse_slo_sources
from zonegate.slo.rules import rule_groups


def test_queries_use_recorded_series_only() -> None:
    specs = parse_slo_sources([builtin_slo_source()]).slos
    recorded = {
        rule["record"]
        for g in rule_groups(specs)["groups"]
        for rule in g["rules"]
        if "record" in rule
    }
    dashboard = build_dashboard()
    queries = panel_queries(dashboard)
    assert len(queries) >= 10
    for expr in queries:
        for name in re.findall(r"slo:[a-z_]+:[a-z_0-9]+", expr):
            assert name in recorded or name + "5m" in recorded, (name, expr)
    assert any("slo:burn_rate:ratio_rate.+" in q for q in queries)
    uids = [p["id"] for p in dashboard["panels"]]
    assert len(uids) == len(set(uids))
    assert dashboard["annotations"]["list"][0]["expr"].startswith(
        f'ALERTS{{alertname="{cv.SLO_ALERT_NAME}"'
    )


def test_shipped_dashboard_is_current() -> None:
    shipped = Path(__file__).parents[3] / "deploy" / "grafana" / "zonegate-slo.json"
    assert shipped.read_text() == render_dashboard(), (
        "regenerate: zonegate slo grafana -o deploy/grafana/zonegate-slo.json"
    )
    assert json.loads(shipped.read_text())["uid"] == "zonegate-slo"
