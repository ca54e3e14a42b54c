"""Prometheus recording and alerting rules for SLO specs, named in Sloth's style.

Per SLO three groups: SLI recordings (``slo:sli_error:ratio_rate<W>`` and
``slo:sli_events:increase<W>`` for every alert window and the SLO window),
meta recordings (objective, error budget, period, burn rates, budget
remaining) and the multi-window multi-burn-rate alerts. Every series carries
``slo`` and ``slo_service`` (and ``slo_window`` for per-window series), so one
dashboard serves every SLO. Alerts carry the same labels the engine's own
notifications carry, so Alertmanager deduplicates the two.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import groupby
from typing import Any

import yaml

from zonegate import conventions as cv
from zonegate.slo.durations import format_duration
from zonegate.slo.queries import Selector, event_query
from zonegate.slo.spec import SLOSpec
from zonegate.slo.windows import AlertWindow, window_lengths

Rule = dict[str, Any]


def slo_labels(spec: SLOSpec) -> dict[str, str]:
    return {**spec.labels, cv.LABEL_SLO: spec.name, cv.LABEL_SLO_SERVICE: spec.service}


def _match(spec: SLOSpec) -> str:
    return f'{cv.LABEL_SLO}="{spec.name}", {cv.LABEL_SLO_SERVICE}="{spec.service}"'


def _rate(selector: Selector, window: str) -> str:
    return f"sum(rate({selector.promql()}[{window}]))"


def error_ratio_expr(spec: SLOSpec, window: str) -> str:
    """PromQL for the SLI's error ratio over ``window``."""
    query = event_query(spec.sli)
    if query.bad is not None:
        return f"({_rate(query.bad, window)})\n/\n({_rate(query.total, window)})\n"
    assert query.good is not None
    return f"1 - (\n  ({_rate(query.good, window)})\n  /\n  ({_rate(query.total, window)})\n)\n"


def evaluated_windows(spec: SLOSpec) -> list[int]:
    return sorted({*window_lengths(spec.alerting.windows), spec.window_s})


def sli_rules(spec: SLOSpec) -> list[Rule]:
    rules: list[Rule] = []
    total = event_query(spec.sli).total
    for seconds in evaluated_windows(spec):
        window = format_duration(seconds)
        labels = {**slo_labels(spec), cv.LABEL_SLO_WINDOW: window}
        rules.append(
            {
                "record": f"{cv.SLO_RECORD_SLI_ERROR}{window}",
                "expr": error_ratio_expr(spec, window),
                "labels": labels,
            }
        )
        rules.append(
            {
                "record": f"{cv.SLO_RECORD_EVENTS}{window}",
                "expr": f"sum(increase({total.promql()}[{window}]))",
                "labels": labels,
            }
        )
    return rules


def meta_rules(spec: SLOSpec) -> list[Rule]:
    labels = slo_labels(spec)
    budget = repr(spec.error_budget)
    period = format_duration(spec.window_s)
    match = _match(spec)
    shortest = format_duration(min(window_lengths(spec.alerting.windows)))
    rules: list[Rule] = [
        {
            "record": cv.SLO_RECORD_OBJECTIVE,
            "expr": f"vector({spec.objective!r})",
            "labels": labels,
        },
        {"record": cv.SLO_RECORD_ERROR_BUDGET, "expr": f"vector({budget})", "labels": labels},
        {
            "record": cv.SLO_RECORD_PERIOD_DAYS,
            "expr": f"vector({spec.window_s / 86400!r})",
            "labels": labels,
        },
    ]
    for seconds in evaluated_windows(spec):
        window = format_duration(seconds)
        rules.append(
            {
                "record": f"{cv.SLO_RECORD_BURN_RATE}{window}",
                "expr": f"{cv.SLO_RECORD_SLI_ERROR}{window}{{{match}}} / {budget}",
                "labels": {**labels, cv.LABEL_SLO_WINDOW: window},
            }
        )
    rules += [
        {
            "record": cv.SLO_RECORD_CURRENT_BURN,
            "expr": f"max without ({cv.LABEL_SLO_WINDOW}) "
            f"({cv.SLO_RECORD_SLI_ERROR}{shortest}{{{match}}}) / {budget}",
            "labels": labels,
        },
        {
            "record": cv.SLO_RECORD_PERIOD_BURN,
            "expr": f"max without ({cv.LABEL_SLO_WINDOW}) "
            f"({cv.SLO_RECORD_SLI_ERROR}{period}{{{match}}}) / {budget}",
            "labels": labels,
        },
        {
            "record": cv.SLO_RECORD_BUDGET_REMAINING,
            "expr": f"1 - {cv.SLO_RECORD_PERIOD_BURN}{{{match}}}",
            "labels": labels,
        },
        {
            "record": cv.SLO_INFO,
            "expr": "vector(1)",
            "labels": {
                **labels,
                "slo_objective": f"{spec.objective * 100:g}",
                "slo_period": period,
                "slo_sli": spec.sli.kind,
            },
        },
    ]
    return rules


def _row_expr(spec: SLOSpec, row: AlertWindow) -> str:
    match = _match(spec)
    threshold = f"({row.burn_rate:g} * {spec.error_budget!r})"
    parts = []
    for seconds in (row.long_s, row.short_s):
        window = format_duration(seconds)
        part = f"({cv.SLO_RECORD_SLI_ERROR}{window}{{{match}}} > {threshold})"
        if spec.alerting.min_events > 0:
            part += (
                f"\n    and ignoring ({cv.LABEL_SLO_WINDOW}) "
                f"({cv.SLO_RECORD_EVENTS}{window}{{{match}}} >= {spec.alerting.min_events})"
            )
        parts.append(part)
    return f"(\n    {parts[0]}\n  and ignoring ({cv.LABEL_SLO_WINDOW})\n    {parts[1]}\n)"


def alert_rules(spec: SLOSpec) -> list[Rule]:
    if not spec.alerting.enabled:
        return []
    rules: list[Rule] = []
    key = lambda w: (w.severity, w.for_s)  # noqa: E731
    for (severity, for_s), rows_iter in groupby(sorted(spec.alerting.windows, key=key), key):
        rows = list(rows_iter)
        joined = f"\nor ignoring ({cv.LABEL_SLO_WINDOW})\n".join(_row_expr(spec, r) for r in rows)
        described = ", ".join(f"{r.burn_rate:g}x over {r.long} and {r.short}" for r in rows)
        rule: Rule = {
            "alert": cv.SLO_ALERT_NAME,
            "expr": f"max without ({cv.LABEL_SLO_WINDOW}) (\n{joined}\n)\n",
            "labels": {**slo_labels(spec), **spec.alerting.labels, cv.LABEL_SEVERITY: severity},
            "annotations": {
                "summary": f"{spec.service} {spec.name}: error budget burning too fast",
                "description": f"Error budget of SLO {spec.name} ({spec.objective * 100:g}% over "
                f"{spec.window}) burns faster than {described}.",
                **spec.alerting.annotations,
            },
        }
        if for_s:
            rule["for"] = format_duration(for_s)
        rules.append(rule)
    return rules


def rule_groups(specs: Sequence[SLOSpec]) -> dict[str, Any]:
    groups: list[dict[str, Any]] = []
    for spec in specs:
        groups.append(
            {"name": f"zonegate-slo-sli-recordings-{spec.name}", "rules": sli_rules(spec)}
        )
        groups.append(
            {"name": f"zonegate-slo-meta-recordings-{spec.name}", "rules": meta_rules(spec)}
        )
        alerts = alert_rules(spec)
        if alerts:
            groups.append({"name": f"zonegate-slo-alerts-{spec.name}", "rules": alerts})
    return {"groups": groups}


class _Dumper(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:
        return True


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)

HEADER = (
    "# Generated by `zonegate slo rules` from the SLO specs. Do not edit: change the\n"
    "# specs and generate again.\n"
)


def render_rules(specs: Sequence[SLOSpec]) -> str:
    body = yaml.dump(rule_groups(specs), Dumper=_Dumper, sort_keys=False, width=100)
    return HEADER + body
