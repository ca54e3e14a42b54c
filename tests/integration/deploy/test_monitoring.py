"""Monitoring configs as the containers see them: Prometheus (promtool), Alertmanager
(amtool), the OpenTelemetry collector pipeline, and the Grafana dashboards."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from tests.integration.deploy.conftest import DEPLOY, bind_mounts, run, tool
from zonegate import conventions

PROMETHEUS_DIR = DEPLOY / "prometheus"
ALERTMANAGER_FILE = DEPLOY / "alertmanager" / "alertmanager.yml"
OTEL_FILE = DEPLOY / "otel-collector" / "config.yaml"
GRAFANA_DIR = DEPLOY / "grafana"
METRIC_NAME = re.compile(r"\bzonegate_[a-z0-9_]+\b")
#: Suffixes Prometheus adds to a histogram's or counter's base name.
SERIES_SUFFIXES = ("_bucket", "_sum", "_count", "_created")

#: The parts of Grafana's dashboard JSON model that Grafana refuses or misrenders when
#: wrong (dashboard kind, schemaVersion 36 and later).
DATASOURCE_REF: dict[str, Any] = {
    "type": "object",
    "properties": {"type": {"type": "string"}, "uid": {"type": "string"}},
    "required": ["uid"],
}
PANEL: dict[str, Any] = {
    "type": "object",
    "required": ["id", "type", "gridPos"],
    "properties": {
        "id": {"type": "integer", "minimum": 1},
        "type": {"type": "string", "minLength": 1},
        "title": {"type": "string"},
        "datasource": DATASOURCE_REF,
        "gridPos": {
            "type": "object",
            "required": ["h", "w", "x", "y"],
            "properties": {
                "h": {"type": "integer", "minimum": 1},
                "w": {"type": "integer", "minimum": 1, "maximum": 24},
                "x": {"type": "integer", "minimum": 0, "maximum": 23},
                "y": {"type": "integer", "minimum": 0},
            },
        },
        "targets": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["refId"],
                "properties": {
                    "refId": {"type": "string", "minLength": 1},
                    "expr": {"type": "string", "minLength": 1},
                    "datasource": DATASOURCE_REF,
                },
            },
        },
        "fieldConfig": {"type": "object", "required": ["defaults"]},
        "options": {"type": "object"},
        "panels": {"type": "array"},
    },
}
DASHBOARD_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["title", "uid", "schemaVersion", "panels"],
    "properties": {
        "title": {"type": "string", "minLength": 1},
        "uid": {"type": "string", "pattern": "^[a-zA-Z0-9_-]{1,40}$"},
        "schemaVersion": {"type": "integer", "minimum": 36},
        "version": {"type": "integer", "minimum": 0},
        "editable": {"type": "boolean"},
        "tags": {"type": "array", "items": {"type": "string"}},
        "refresh": {"type": ["string", "boolean"]},
        "timezone": {"type": "string"},
        "time": {
            "type": "object",
            "required": ["from", "to"],
            "properties": {"from": {"type": "string"}, "to": {"type": "string"}},
        },
        "templating": {
            "type": "object",
            "required": ["list"],
            "properties": {
                "list": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["name", "type"],
                        "properties": {
                            "name": {"type": "string", "pattern": "^[a-zA-Z_][a-zA-Z0-9_]*$"},
                            "type": {
                                "enum": [
                                    "query",
                                    "datasource",
                                    "custom",
                                    "constant",
                                    "interval",
                                    "textbox",
                                    "adhoc",
                                    "groupby",
                                ]
                            },
                        },
                    },
                }
            },
        },
        "annotations": {
            "type": "object",
            "properties": {"list": {"type": "array", "items": {"type": "object"}}},
        },
        "panels": {"type": "array", "items": PANEL},
    },
}


def convention_metric_names() -> set[str]:
    return {
        value
        for value in vars(conventions).values()
        if isinstance(value, str) and value.startswith("zonegate_")
    }


def assert_known_metric(name: str) -> None:
    base = name
    for suffix in SERIES_SUFFIXES:
        if name.endswith(suffix) and name.removesuffix(suffix) in convention_metric_names():
            base = name.removesuffix(suffix)
    assert base in convention_metric_names(), f"{name} is not a metric zonegate exports"


@pytest.fixture
def prometheus_root(compose: Mapping[str, Any], tmp_path: Path) -> Path:
    """/etc/prometheus as the prometheus container sees it, built from its bind mounts."""
    prometheus = compose["services"]["prometheus"]
    for source, target in bind_mounts(prometheus):
        if target.startswith("/etc/prometheus/"):
            destination = tmp_path / target.lstrip("/")
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, destination)
    return tmp_path / "etc" / "prometheus"


def test_promtool_accepts_the_config_with_its_rules_as_mounted(
    compose: Mapping[str, Any], prometheus_root: Path
) -> None:
    command = compose["services"]["prometheus"]["command"]
    assert "--config.file=/etc/prometheus/prometheus.yml" in command
    result = run([tool("promtool"), "check", "config", str(prometheus_root / "prometheus.yml")])
    assert result.returncode == 0, result.stdout + result.stderr
    rules = sorted((prometheus_root / "rules").glob("*.yml"))
    assert [r.name for r in rules] == ["slo-rules.yml", "zonegate-alerts.yml"]
    assert "SUCCESS: 2 rule files found" in result.stdout


def test_operational_alerts_pass_their_promtool_unit_tests() -> None:
    result = run(
        [tool("promtool"), "test", "rules", "zonegate-alerts.test.yml"], cwd=PROMETHEUS_DIR
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_alert_rules_use_metrics_zonegate_exports() -> None:
    groups = yaml.safe_load((PROMETHEUS_DIR / "zonegate-alerts.yml").read_text(encoding="utf-8"))
    names = set()
    for group in groups["groups"]:
        for rule in group["rules"]:
            names |= set(METRIC_NAME.findall(rule["expr"]))
            assert rule["labels"]["severity"] in ("page", "ticket"), rule["alert"]
    assert names
    for name in names:
        assert_known_metric(name)


def test_alertmanager_config_and_routes(tmp_path: Path) -> None:
    amtool = tool("amtool")
    result = run([amtool, "check-config", str(ALERTMANAGER_FILE)])
    assert result.returncode == 0, result.stdout + result.stderr
    severities = set()
    for rules_file in PROMETHEUS_DIR.glob("*.yml"):
        data = yaml.safe_load(rules_file.read_text(encoding="utf-8"))
        for group in data.get("groups", []):
            for rule in group["rules"]:
                if "alert" in rule:
                    severities.add(rule["labels"]["severity"])
    assert severities == {"page", "ticket"}
    expected = {"page": "on-call", "ticket": "team-queue"}
    for severity in sorted(severities):
        result = run(
            [
                amtool,
                "config",
                "routes",
                "test",
                f"--config.file={ALERTMANAGER_FILE}",
                "alertname=ZonegateSLOBurnRate",
                f"severity={severity}",
                "slo=edge-availability",
            ]
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == expected[severity]


def test_otel_collector_pipeline_is_complete() -> None:
    config = yaml.safe_load(OTEL_FILE.read_text(encoding="utf-8"))
    service = config["service"]
    for extension in service.get("extensions", []):
        assert extension in config["extensions"], extension
    used: dict[str, set[str]] = {"receivers": set(), "processors": set(), "exporters": set()}
    for name, pipeline in service["pipelines"].items():
        assert name.split("/")[0] in ("traces", "metrics", "logs"), name
        assert pipeline["receivers"] and pipeline["exporters"], name
        for section, components in pipeline.items():
            for component in components:
                assert component in config[section], f"{name}: {section} {component} undefined"
                used[section].add(component)
    for section, components in used.items():
        assert set(config[section]) == components, f"unused {section}"
    processors = service["pipelines"]["traces"]["processors"]
    assert processors[0] == "memory_limiter" and processors[-1] == "batch"
    http = config["receivers"]["otlp"]["protocols"]["http"]["endpoint"]
    assert http == "0.0.0.0:4318"


def dashboards() -> list[Path]:
    found = sorted(GRAFANA_DIR.rglob("*.json"))
    assert found, f"no Grafana dashboard in {GRAFANA_DIR}"
    return found


def _all_panels(panels: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for panel in panels:
        out.append(panel)
        out += _all_panels(panel.get("panels", []))
    return out


def test_dashboards_follow_the_grafana_dashboard_schema() -> None:
    for path in dashboards():
        dashboard = json.loads(path.read_text(encoding="utf-8"))
        jsonschema.validate(dashboard, DASHBOARD_SCHEMA)
        panels = _all_panels(dashboard["panels"])
        ids = [p["id"] for p in panels]
        assert len(ids) == len(set(ids)), f"{path.name}: duplicate panel ids"
        for panel in panels:
            grid = panel["gridPos"]
            assert grid["x"] + grid["w"] <= 24, f"{path.name}: panel {panel['id']} overflows"
            refs = [t["refId"] for t in panel.get("targets", [])]
            assert len(refs) == len(set(refs)), f"{path.name}: panel {panel['id']} refIds"
        variables = {v["name"] for v in dashboard.get("templating", {}).get("list", [])}
        for used in re.findall(r"\$\{?(\w+)", path.read_text(encoding="utf-8")):
            assert used in variables or used.startswith("__"), f"{path.name}: unknown ${used}"


def test_dashboard_queries_are_valid_promql(tmp_path: Path) -> None:
    """Each panel query, with its variables filled in, parses as PromQL (promtool)."""
    rules: list[dict[str, str]] = []
    for path in dashboards():
        dashboard = json.loads(path.read_text(encoding="utf-8"))
        for panel in _all_panels(dashboard["panels"]):
            for target in panel.get("targets", []):
                if "expr" not in target:
                    continue
                expr = re.sub(r"\$__(rate_interval|interval|range)\b", "5m", target["expr"])
                expr = re.sub(r"\$\{?(\w+)\}?", "sample", expr)
                rules.append({"record": f"dashboard:query_{len(rules)}:check", "expr": expr})
    assert rules
    rule_file = tmp_path / "dashboard-queries.yml"
    rule_file.write_text(
        yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}), encoding="utf-8"
    )
    result = run([tool("promtool"), "check", "rules", str(rule_file)])
    assert result.returncode == 0, result.stdout + result.stderr
