"""Generated rules pass `promtool check rules`, and `promtool test rules` fires the page
alert on a synthetic outage with the labels the engine's own notifications use."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from zonegate import conventions as cv
from zonegate.slo.loader import parse_slo_text
from zonegate.slo.rules import alert_rules, render_rules

SLOS = """
version: 1
slos:
  - name: checkout-availability
    service: checkout
    objective: 0.999
    sli: {kind: availability, route: checkout}
    labels: {team: payments}
  - name: edge-latency
    service: edge
    objective: 0.99
    window: 28d
    sli: {kind: latency, source: edge, threshold: 0.25}
    alerting:
      min_events: 0
      windows: [{severity: page, burn_rate: 10, long: 1h, short: 5m, for: 2m}]
"""


def promtool() -> str:
    path = shutil.which("promtool")
    assert path, "promtool is missing: apt-get install prometheus (Makefile SYSTEM_PACKAGES)"
    return path


def test_generated_rules_pass_promtool_check(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yml"
    rules.write_text(render_rules(parse_slo_text(SLOS).slos))
    result = subprocess.run(
        [promtool(), "check", "rules", str(rules)],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_promtool_unit_test_fires_page_on_outage(tmp_path: Path) -> None:
    specs = parse_slo_text(SLOS).slos
    (tmp_path / "rules.yml").write_text(render_rules(specs))
    page = next(r for r in alert_rules(specs[0]) if r["labels"]["severity"] == "page")
    ticket = next(r for r in alert_rules(specs[0]) if r["labels"]["severity"] == "ticket")
    ok = f'{cv.NODE_REQUESTS_TOTAL}{{route="checkout",zone="a",node="n1",status_class="2xx"}}'
    bad = f'{cv.NODE_REQUESTS_TOTAL}{{route="checkout",zone="a",node="n1",status_class="5xx"}}'
    # 10 req/s; from 2h on every request fails
    test = {
        "rule_files": ["rules.yml"],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [
                    {"series": ok, "values": "0+600x120 72000+0x120"},
                    {"series": bad, "values": "0+0x120 0+600x120"},
                ],
                "alert_rule_test": [
                    {"eval_time": "119m", "alertname": cv.SLO_ALERT_NAME, "exp_alerts": []},
                    {
                        "eval_time": "123m",
                        "alertname": cv.SLO_ALERT_NAME,
                        "exp_alerts": [
                            {"exp_labels": rule["labels"], "exp_annotations": rule["annotations"]}
                            for rule in (page, ticket)
                        ],
                    },
                ],
                "promql_expr_test": [
                    {
                        "expr": 'slo:current_burn_rate:ratio{slo="checkout-availability"}',
                        "eval_time": "130m",
                        "exp_samples": [
                            {
                                "labels": 'slo:current_burn_rate:ratio{slo="checkout-availability",'
                                'slo_service="checkout",team="payments"}',
                                "value": 1000,
                            }
                        ],
                    }
                ],
            }
        ],
    }
    (tmp_path / "test.yml").write_text(yaml.safe_dump(test, sort_keys=False))
    result = subprocess.run(
        [promtool(), "test", "rules", "test.yml"],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("bad", ["groups: [{name: x, rules: [{record: 'a b', expr: '1'}]}]"])
def test_promtool_really_checks(tmp_path: Path, bad: str) -> None:
    rules = tmp_path / "bad.yml"
    rules.write_text(bad)
    result = subprocess.run(
        [promtool(), "check", "rules", str(rules)], check=False, capture_output=True
    )
    assert result.returncode != 0
