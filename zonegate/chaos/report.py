"""The drill report: a typed document written as ``report.json`` and ``report.md``."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from zonegate.chaos.errors import ReportError

Outcome = Literal["completed", "deviated", "failed", "aborted", "interrupted"]
REPORT_FILE = "report.json"
MARKDOWN_FILE = "report.md"
TIMELINE_PNG = "timeline.png"
TIMELINE_JSON = "timeline.json"
REQUESTS_FILE = "requests.jsonl"


class ReportModel(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class StepOutcome(ReportModel):
    phase: str
    index: int
    name: str
    kind: str
    mark: str = "none"
    started_at: float
    ended_at: float
    ok: bool
    detail: str = ""
    value: float | None = None
    affected: list[str] = Field(default_factory=list)


class Hypothesis(ReportModel):
    title: str
    met: bool
    probes: list[StepOutcome]


class GuardTripOut(ReportModel):
    at: float
    guard: int
    kind: str
    value: float
    bound: float
    message: str


class Metrics(ReportModel):
    time_to_detect_s: float | None = None
    time_to_failover_s: float | None = None
    time_to_recover_s: float | None = None
    requests_total: int = 0
    requests_failed: int = 0
    requests_during: int = 0
    failed_during: int = 0
    error_rate_during: float | None = None
    p99_during_ms: float | None = None
    error_budget_consumed: float | None = None
    error_budget_slo: str = ""
    error_budget_source: Literal["load", "slo_engine", "none"] = "none"
    leader_changes: int = 0


class Marks(ReportModel):
    load_start: float | None = None
    method_start: float | None = None
    method_end: float | None = None
    observe_end: float | None = None
    fault_at: float | None = None
    fault_issued_at: float | None = None
    detected_at: float | None = None
    failover_at: float | None = None
    recovery_at: float | None = None
    recovered_at: float | None = None


class Targets(ReportModel):
    nodes: list[str] = Field(default_factory=list)
    zones: list[str] = Field(default_factory=list)
    etcd: bool = False


class LoadSummary(ReportModel):
    host: str = ""
    users: int = 0
    rate_per_user: float = 0.0
    target_rps: float | None = None
    achieved_rps: float | None = None


class DrillReport(ReportModel):
    version: Literal[1] = 1
    drill: str
    title: str
    source: str = ""
    parameters: dict[str, str] = Field(default_factory=dict)
    started_at: float
    ended_at: float
    outcome: Outcome
    outcome_reason: str = ""
    metrics: Metrics
    marks: Marks
    targets: Targets = Targets()
    baseline_shares: dict[str, float] = Field(default_factory=dict)
    served_during: dict[str, int] = Field(default_factory=dict)
    hypothesis_before: Hypothesis | None = None
    hypothesis_after: Hypothesis | None = None
    steps: list[StepOutcome] = Field(default_factory=list)
    guard_trips: list[GuardTripOut] = Field(default_factory=list)
    rollbacks: list[StepOutcome] = Field(default_factory=list)
    load: LoadSummary = LoadSummary()
    settings: dict[str, Any] = Field(default_factory=dict)
    events: list[dict[str, Any]] = Field(default_factory=list, description="observer events")
    notes: list[str] = Field(default_factory=list)
    files: dict[str, str] = Field(default_factory=dict)

    @property
    def rollbacks_done(self) -> int:
        return sum(1 for r in self.rollbacks if r.ok)


def write_report_json(report: DrillReport, out_dir: Path) -> Path:
    path = out_dir / REPORT_FILE
    path.write_text(json.dumps(report.model_dump(mode="json"), indent=2) + "\n", encoding="utf-8")
    return path


def read_report(path: str | Path) -> DrillReport:
    """A report from ``report.json`` or the directory holding it."""
    path = Path(path)
    if path.is_dir():
        path = path / REPORT_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ReportError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise ReportError(f"{path}: not JSON: {exc}") from None
    try:
        return DrillReport.model_validate(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ReportError(f"{path}: not a drill report ({where}: {first['msg']})") from None


# --- Markdown ------------------------------------------------------------------------------
def fmt_seconds(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f} s"


def fmt_ratio(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value * 100:.{digits}f} %"


def fmt_ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f} ms"


def fmt_budget(value: float | None) -> str:
    """Budget shares are tiny for short drills: three significant digits of a percent."""
    return "n/a" if value is None else f"{value * 100:.3g} %"


def metric_rows(report: DrillReport) -> list[tuple[str, str]]:
    m = report.metrics
    budget = fmt_budget(m.error_budget_consumed)
    if m.error_budget_consumed is not None:
        budget += f" of {m.error_budget_slo} ({m.error_budget_source})"
    return [
        ("time_to_detect_s", fmt_seconds(m.time_to_detect_s)),
        ("time_to_failover_s", fmt_seconds(m.time_to_failover_s)),
        ("time_to_recover_s", fmt_seconds(m.time_to_recover_s)),
        ("requests_total", str(m.requests_total)),
        ("requests_failed", str(m.requests_failed)),
        ("error_rate_during", fmt_ratio(m.error_rate_during)),
        ("p99_during_ms", fmt_ms(m.p99_during_ms)),
        ("error_budget_consumed", budget),
        ("leader_changes", str(m.leader_changes)),
    ]


def _rel(report: DrillReport, t: float) -> str:
    origin = report.marks.method_start or report.started_at
    return f"{t - origin:+.3f}s"


def _step_table(report: DrillReport, steps: list[StepOutcome]) -> list[str]:
    lines = ["| at | step | kind | result | detail |", "| --- | --- | --- | --- | --- |"]
    for s in steps:
        result = "ok" if s.ok else "**failed**"
        detail = s.detail.replace("|", "\\|").replace("\n", " ")
        lines.append(
            f"| {_rel(report, s.started_at)} | {s.name} | {s.kind} | {result} | {detail} |"
        )
    return lines


def _hypothesis(title: str, h: Hypothesis | None) -> list[str]:
    if h is None:
        return [f"**{title}**: not checked", ""]
    lines = [f"**{title}** ({h.title}): {'met' if h.met else '**not met**'}", ""]
    for p in h.probes:
        lines.append(f"- {'✔' if p.ok else '✘'} {p.name}: {p.detail}")
    return [*lines, ""]


def render_markdown(report: DrillReport) -> str:
    started = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(report.started_at))
    out = [
        f"# Drill report: {report.title}",
        "",
        f"- drill: `{report.drill}`; started {started}; "
        f"took {report.ended_at - report.started_at:.1f} s",
        f"- outcome: **{report.outcome}**"
        + (f" ({report.outcome_reason})" if report.outcome_reason else ""),
    ]
    if report.parameters:
        params = ", ".join(f"{k}={v}" for k, v in sorted(report.parameters.items()))
        out.append(f"- parameters: {params}")
    if report.targets.nodes or report.targets.zones or report.targets.etcd:
        hit = report.targets.zones or report.targets.nodes or ["etcd"]
        out.append(f"- fault target: {', '.join(hit)}")
    load = report.load
    if load.users:
        out.append(
            f"- load: {load.users} users x {load.rate_per_user:g} req/s against {load.host}"
            + (f" (achieved {load.achieved_rps:.0f} req/s)" if load.achieved_rps else "")
        )
    out += ["", "## Numbers", "", "| metric | value |", "| --- | --- |"]
    out += [f"| {name} | {value} |" for name, value in metric_rows(report)]
    out += ["", f"![timeline]({TIMELINE_PNG})", "", "## Hypothesis", ""]
    out += _hypothesis("before", report.hypothesis_before)
    out += _hypothesis("after", report.hypothesis_after)
    out += ["## Method", "", *_step_table(report, report.steps), ""]
    out += ["## Guards", ""]
    if report.guard_trips:
        out += [f"- tripped at {_rel(report, g.at)}: {g.message}" for g in report.guard_trips]
    else:
        out.append("- no guard tripped")
    out += ["", "## Rollbacks", ""]
    if report.rollbacks:
        out += _step_table(report, report.rollbacks)
        out.append("")
        out.append(f"{report.rollbacks_done} of {len(report.rollbacks)} rollbacks done.")
    else:
        out.append("- none defined")
    if report.served_during:
        out += ["", "## Served per zone, from the fault to the end of the observation", ""]
        out += [f"- {zone}: {count}" for zone, count in sorted(report.served_during.items())]
    if report.notes:
        out += ["", "## Notes", ""] + [f"- {n}" for n in report.notes]
    return "\n".join(out) + "\n"


def write_markdown(report: DrillReport, out_dir: Path) -> Path:
    path = out_dir / MARKDOWN_FILE
    path.write_text(render_markdown(report), encoding="utf-8")
    return path
