"""Read OpenSLO v1 ``kind: SLO`` / ``kind: SLI`` documents into native specs.

What maps: rolling time windows, ``Occurrences`` budgeting, one objective,
``ratioMetric`` (counter) over the node/GLB request counters or duration
histograms, and ``thresholdMetric`` over a duration histogram with ``op: lt``
or ``lte`` (a latency SLI). Everything else is rejected with a message that
says what to change; ``Service`` and ``DataSource`` documents are accepted
as context and otherwise ignored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from zonegate import conventions as cv

API_VERSION = "openslo/v1"
IGNORED_KINDS = ("Service", "DataSource")
_UNIT_DAYS = {"M": 30, "Q": 90, "Y": 365}
_METRIC = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_MATCHER = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!=|!~|=)\s*"((?:[^"\\]|\\.)*)"')
_STATUS_CLASSES = ("1xx", "2xx", "3xx", "4xx", "5xx")
_SCOPE_LABELS = {
    cv.LABEL_ROUTE: "route",
    cv.LABEL_CLUSTER: "cluster",
    cv.LABEL_ZONE: "zone",
    cv.LABEL_REGION: "region",
}
_COUNTERS = {cv.NODE_REQUESTS_TOTAL: "node", cv.GLB_REQUESTS_TOTAL: "edge"}
_HISTOGRAMS = {cv.NODE_REQUEST_DURATION: "node", cv.GLB_REQUEST_DURATION: "edge"}


class OpenSLOProblem(ValueError):
    """One reason a document cannot be mapped; ``where`` is its path inside the document."""

    def __init__(self, where: str, message: str):
        super().__init__(f"{where}: {message}")
        self.where = where


@dataclass(frozen=True)
class PromSelector:
    metric: str
    matchers: tuple[tuple[str, str, str], ...]


def is_openslo(doc: object) -> bool:
    return isinstance(doc, dict) and str(doc.get("apiVersion", "")).startswith("openslo/")


def parse_selector(query: str, where: str) -> PromSelector:
    """The one zonegate metric a PromQL query reads, with its label matchers."""
    known = {*_COUNTERS, *(f"{h}{s}" for h in _HISTOGRAMS for s in ("", "_bucket", "_count"))}
    found: list[tuple[str, str]] = []
    for match in _METRIC.finditer(query):
        name = match.group(0)
        if name in known:
            rest = query[match.end() :].lstrip()
            body = ""
            if rest.startswith("{"):
                end = rest.find("}")
                body = rest[1:end] if end >= 0 else ""
            found.append((name, body))
    names = {name for name, _ in found}
    if len(names) != 1:
        raise OpenSLOProblem(
            where,
            f"query {query.strip()!r} must read exactly one zonegate metric "
            f"({', '.join(sorted(_COUNTERS))} or a duration histogram); found "
            f"{', '.join(sorted(names)) or 'none'}",
        )
    name, body = found[0]
    return PromSelector(name, tuple(_MATCHER.findall(body)))


def _scope(selector: PromSelector, where: str) -> dict[str, str]:
    scope: dict[str, str] = {}
    for label, op, value in selector.matchers:
        if label in (cv.LABEL_STATUS_CLASS, "le"):
            continue
        if label not in _SCOPE_LABELS:
            raise OpenSLOProblem(
                where, f"label {label!r} cannot scope an SLI (use route, cluster, zone, region)"
            )
        if op != "=":
            raise OpenSLOProblem(where, f"scope label {label} must use '=', not {op!r}")
        scope[_SCOPE_LABELS[label]] = value
    return scope


def _status_classes(selector: PromSelector, where: str) -> set[str] | None:
    """Status classes a selector keeps, or None when it has no status_class matcher."""
    kept: set[str] | None = None
    for label, op, value in selector.matchers:
        if label != cv.LABEL_STATUS_CLASS:
            continue
        values = set(value.split("|")) if op in ("=~", "!~") else {value}
        unknown = values - set(_STATUS_CLASSES)
        if unknown:
            raise OpenSLOProblem(
                where, f"status_class values {sorted(unknown)} are not one of {_STATUS_CLASSES}"
            )
        this = values if op in ("=", "=~") else set(_STATUS_CLASSES) - values
        kept = this if kept is None else kept & this
    return kept


def _metric_query(spec: Any, where: str) -> str:
    source = spec.get("metricSource") if isinstance(spec, dict) else None
    if not isinstance(source, dict):
        raise OpenSLOProblem(where, "metricSource is missing")
    kind = str(source.get("type", "Prometheus"))
    if kind.lower() not in ("prometheus", "zonegate"):
        raise OpenSLOProblem(
            f"{where}.metricSource.type",
            f"{kind!r} is not supported: zonegate reads its own metrics (type: Prometheus)",
        )
    query = (
        (source.get("spec") or {}).get("query") if isinstance(source.get("spec"), dict) else None
    )
    if not isinstance(query, str) or not query.strip():
        raise OpenSLOProblem(f"{where}.metricSource.spec.query", "a PromQL query is required")
    return query


def map_sli(spec: Any, objective: dict[str, Any], where: str) -> dict[str, Any]:
    """An OpenSLO SLI spec (+ the objective for thresholds) -> a native ``sli`` mapping."""
    if not isinstance(spec, dict):
        raise OpenSLOProblem(where, "SLI spec must be a mapping")
    if "ratioMetric" in spec:
        return _map_ratio(spec["ratioMetric"], f"{where}.ratioMetric")
    if "thresholdMetric" in spec:
        return _map_threshold(spec["thresholdMetric"], objective, f"{where}.thresholdMetric")
    raise OpenSLOProblem(where, "needs ratioMetric or thresholdMetric")


def _map_ratio(ratio: Any, where: str) -> dict[str, Any]:
    if not isinstance(ratio, dict):
        raise OpenSLOProblem(where, "must be a mapping")
    if "raw" in ratio or "rawType" in ratio:
        raise OpenSLOProblem(where, "raw ratio metrics are not supported; use good/bad and total")
    if ratio.get("counter") is not True:
        raise OpenSLOProblem(f"{where}.counter", "only counter: true (cumulative counters)")
    if "total" not in ratio or ("good" in ratio) == ("bad" in ratio):
        raise OpenSLOProblem(where, "needs total and exactly one of good or bad")
    total = parse_selector(_metric_query(ratio["total"], f"{where}.total"), f"{where}.total")
    part_key = "good" if "good" in ratio else "bad"
    part_where = f"{where}.{part_key}"
    part = parse_selector(_metric_query(ratio[part_key], part_where), part_where)
    scope = _scope(total, f"{where}.total")
    if _scope(part, part_where) != scope:
        raise OpenSLOProblem(part_where, "must select the same route/cluster/zone/region as total")
    if total.metric in _COUNTERS:
        return _availability(total, part, part_key, scope, part_where)
    base = total.metric.removesuffix("_count")
    if total.metric.endswith("_count") and part_key == "good" and part.metric == f"{base}_bucket":
        le = [v for label, op, v in part.matchers if label == "le" and op == "="]
        if len(le) != 1:
            raise OpenSLOProblem(part_where, 'good must pick one bucket with le="<seconds>"')
        return {"kind": "latency", "source": _HISTOGRAMS[base], "threshold": float(le[0]), **scope}
    raise OpenSLOProblem(
        where,
        "ratioMetric must count requests (total: a request counter) or latency "
        "(total: <histogram>_count, good: <histogram>_bucket{le=...})",
    )


def _availability(
    total: PromSelector, part: PromSelector, part_key: str, scope: dict[str, str], where: str
) -> dict[str, Any]:
    if part.metric != total.metric:
        raise OpenSLOProblem(where, f"must read {total.metric} like total")
    if _status_classes(total, where) is not None:
        raise OpenSLOProblem(where.rsplit(".", 1)[0] + ".total", "total must not filter status")
    kept = _status_classes(part, where)
    if kept is None:
        raise OpenSLOProblem(where, f"{part_key} must filter on status_class")
    bad = kept if part_key == "bad" else set(_STATUS_CLASSES) - kept
    if not bad:
        raise OpenSLOProblem(where, "no status class is left to count as bad")
    return {
        "kind": "availability",
        "source": _COUNTERS[total.metric],
        "bad_status_classes": sorted(bad),
        **scope,
    }


def _map_threshold(metric: Any, objective: dict[str, Any], where: str) -> dict[str, Any]:
    selector = parse_selector(_metric_query(metric, where), where)
    base = selector.metric.removesuffix("_bucket").removesuffix("_count")
    if base not in _HISTOGRAMS:
        raise OpenSLOProblem(where, "thresholdMetric must read a request duration histogram")
    op = objective.get("op")
    if op not in ("lt", "lte"):
        raise OpenSLOProblem(
            "objectives[0].op", f"op {op!r} is not supported: latency objectives use lt or lte"
        )
    value = objective.get("value")
    if not isinstance(value, int | float) or value <= 0:
        raise OpenSLOProblem("objectives[0].value", "needs the latency threshold in seconds")
    return {
        "kind": "latency",
        "source": _HISTOGRAMS[base],
        "threshold": float(value),
        **_scope(selector, where),
    }


def map_window(spec: dict[str, Any]) -> str:
    windows = spec.get("timeWindow")
    if not isinstance(windows, list) or len(windows) != 1 or not isinstance(windows[0], dict):
        raise OpenSLOProblem("spec.timeWindow", "needs exactly one time window")
    window = windows[0]
    if window.get("isRolling") is not True or "calendar" in window:
        raise OpenSLOProblem(
            "spec.timeWindow[0]",
            "calendar-aligned windows are not supported; use isRolling: true",
        )
    duration = str(window.get("duration", ""))
    match = re.fullmatch(r"(\d+)([mhdwMQY])", duration)
    if not match:
        raise OpenSLOProblem("spec.timeWindow[0].duration", f"invalid duration {duration!r}")
    count, unit = int(match.group(1)), match.group(2)
    return f"{count * _UNIT_DAYS[unit]}d" if unit in _UNIT_DAYS else duration


def map_slo(doc: dict[str, Any], slis: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """An OpenSLO ``kind: SLO`` document -> a native spec mapping (validated by the caller)."""
    spec = doc.get("spec")
    if not isinstance(spec, dict):
        raise OpenSLOProblem("spec", "is missing")
    method = spec.get("budgetingMethod", "Occurrences")
    if method != "Occurrences":
        raise OpenSLOProblem(
            "spec.budgetingMethod",
            f"{method} is not supported: zonegate budgets by Occurrences (events)",
        )
    if spec.get("alertPolicies"):
        raise OpenSLOProblem(
            "spec.alertPolicies",
            "alert policies are not supported: remove them (zonegate's multi-window "
            "burn-rate defaults apply) or write a native spec with alerting.windows",
        )
    objectives = spec.get("objectives")
    if not isinstance(objectives, list) or len(objectives) != 1:
        raise OpenSLOProblem(
            "spec.objectives", "needs exactly one objective (split others into separate SLOs)"
        )
    objective = objectives[0] if isinstance(objectives[0], dict) else {}
    for key in ("timeSliceTarget", "timeSliceWindow"):
        if key in objective:
            raise OpenSLOProblem(f"spec.objectives[0].{key}", "time slices are not supported")
    sli_spec = _indicator(spec, slis)
    return {
        "name": (doc.get("metadata") or {}).get("name"),
        "service": spec.get("service"),
        "description": spec.get("description", ""),
        "objective": objective.get("target"),
        "window": map_window(spec),
        "sli": map_sli(sli_spec, objective, "spec.indicator.spec"),
    }


def _indicator(spec: dict[str, Any], slis: dict[str, dict[str, Any]]) -> Any:
    if "indicator" in spec:
        indicator = spec["indicator"]
        return indicator.get("spec") if isinstance(indicator, dict) else None
    ref = spec.get("indicatorRef")
    if not isinstance(ref, str):
        raise OpenSLOProblem("spec", "needs indicator or indicatorRef")
    if ref not in slis:
        known = ", ".join(sorted(slis)) or "none"
        raise OpenSLOProblem("spec.indicatorRef", f"no kind: SLI named {ref!r} (known: {known})")
    return slis[ref]
