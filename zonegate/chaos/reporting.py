"""From what happened during a run to the written report: numbers, files, annotation."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from zonegate.chaos.analysis import AnalysisSettings, FaultTargets, HealthEvent, Marks, analyze
from zonegate.chaos.annotate import annotation_of, write_annotation
from zonegate.chaos.context import DrillContext
from zonegate.chaos.environment import DrillEnvironment
from zonegate.chaos.guards import GuardTrip
from zonegate.chaos.load.process import LoadProcess
from zonegate.chaos.plot import Marker, plot_timeline
from zonegate.chaos.records import in_window
from zonegate.chaos.report import (
    MARKDOWN_FILE,
    REPORT_FILE,
    REQUESTS_FILE,
    TIMELINE_JSON,
    TIMELINE_PNG,
    DrillReport,
    GuardTripOut,
    Hypothesis,
    LoadSummary,
    Metrics,
    Outcome,
    StepOutcome,
    Targets,
    write_markdown,
    write_report_json,
)
from zonegate.chaos.report import Marks as ReportMarks
from zonegate.chaos.slo_link import engine_budget
from zonegate.chaos.spec.experiment import Experiment
from zonegate.errors import ZonegateError

BudgetSource = Literal["load", "slo_engine", "none"]

if TYPE_CHECKING:
    from zonegate.chaos.runner import RunOptions


@dataclass
class RunFacts:
    """Everything the runner observed, in wall-clock seconds."""

    started_at: float
    parameters: dict[str, str] = field(default_factory=dict)
    load_start: float | None = None
    load_end: float | None = None
    method_start: float | None = None
    method_end: float | None = None
    observe_end: float | None = None
    fault_at: float | None = None
    fault_issued_at: float | None = None
    recovery_at: float | None = None
    targets: FaultTargets | None = None
    before: Hypothesis | None = None
    after: Hypothesis | None = None
    steps: list[StepOutcome] = field(default_factory=list)
    rollbacks: list[StepOutcome] = field(default_factory=list)
    guard_trip: GuardTrip | None = None
    failure: str = ""
    interrupted: bool = False
    deviations: list[str] = field(default_factory=list)
    events: list[HealthEvent] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def outcome_of(facts: RunFacts) -> tuple[Outcome, str]:
    if facts.interrupted:
        return "interrupted", "stopped by Ctrl-C"
    if facts.guard_trip is not None:
        return "aborted", facts.guard_trip.message
    if facts.failure:
        return "failed", facts.failure
    if facts.after is not None and not facts.after.met:
        return "deviated", "the steady-state hypothesis did not hold after the method"
    if facts.deviations:
        return "deviated", "; ".join(facts.deviations)
    return "completed", ""


def _markers(facts: RunFacts, numbers_marks: dict[str, float | None], target: str) -> list[Marker]:
    out = [Marker(s.started_at, "step", s.name) for s in facts.steps]
    labels = {
        "fault": target or "fault",
        "detected": "marked down",
        "failover": "served elsewhere",
        "recovery": "recovery",
        "recovered": "back to baseline",
    }
    for kind, label in labels.items():
        t = numbers_marks.get(kind)
        if t is not None:
            out.append(Marker(t, kind, label))
    if facts.guard_trip is not None:
        out.append(Marker(facts.guard_trip.t, "guard", facts.guard_trip.kind))
    return out


def _trips(trip: GuardTrip | None) -> list[GuardTripOut]:
    if trip is None:
        return []
    return [
        GuardTripOut(
            at=trip.t,
            guard=trip.index,
            kind=trip.kind,
            value=trip.value,
            bound=trip.bound,
            message=trip.message,
        )
    ]


async def finish_report(
    experiment: Experiment,
    env: DrillEnvironment,
    options: RunOptions,
    facts: RunFacts,
    ctx: DrillContext,
    load: LoadProcess | None,
) -> DrillReport:
    now = options.clock()
    records = sorted(ctx.records, key=lambda r: r.t)
    settings = experiment.report
    objective, window_s = ctx.objectives(settings.slo, settings.objective)
    load_start = facts.load_start or facts.started_at
    if records:  # the log is in completion order: the earliest start may come later in it
        load_start = min(load_start, records[0].t)
    observe_end = facts.observe_end or facts.method_end or facts.load_end or now
    marks = Marks(
        load_start=load_start,
        observe_end=observe_end,
        load_end=facts.load_end or now,
        method_start=facts.method_start,
        fault_at=facts.fault_at,
        recovery_at=facts.recovery_at,
        fault_issued_at=facts.fault_issued_at,
    )
    targets = facts.targets or FaultTargets()
    numbers, bins = analyze(
        records,
        facts.events,
        marks,
        targets,
        AnalysisSettings(
            bin_s=settings.bin_ms / 1000.0,
            success_threshold=settings.success_threshold,
            sustain_bins=settings.sustain_bins,
            baseline_s=settings.baseline_s,
            share_tolerance=settings.share_tolerance,
            objective=objective,
            slo_window_s=window_s,
        ),
    )
    budget = numbers.error_budget_consumed
    source: BudgetSource = "load" if records else "none"
    if env.slo_url and facts.method_start is not None:
        from_engine = await engine_budget(
            ctx.session, env.slo_url, settings.slo, facts.method_start, observe_end
        )
        if from_engine is not None:
            if budget is not None:
                facts.notes.append(f"error budget from the drill's own requests: {budget:.3g}")
            budget, source = from_engine, "slo_engine"
        else:
            facts.notes.append(f"the SLO engine at {env.slo_url} gave no budget figure")
    outcome, reason = outcome_of(facts)
    out_dir = options.out_dir
    served: Counter[str] = Counter()
    if numbers.during is not None:
        start, end = numbers.during
        served.update(r.zone or "?" for r in in_window(records, start, end) if not r.failed)
    span = (facts.load_end or now) - load_start
    spec = experiment.load
    report = DrillReport(
        drill=options.drill,
        title=experiment.title,
        source=options.source,
        parameters=facts.parameters,
        started_at=facts.started_at,
        ended_at=now,
        outcome=outcome,
        outcome_reason=reason,
        metrics=Metrics(
            time_to_detect_s=numbers.time_to_detect_s,
            time_to_failover_s=numbers.time_to_failover_s,
            time_to_recover_s=numbers.time_to_recover_s,
            requests_total=numbers.requests_total,
            requests_failed=numbers.requests_failed,
            requests_during=numbers.requests_during,
            failed_during=numbers.failed_during,
            error_rate_during=numbers.error_rate_during,
            p99_during_ms=numbers.p99_during_ms,
            error_budget_consumed=budget,
            error_budget_slo=settings.slo,
            error_budget_source=source,
            leader_changes=numbers.leader_changes,
        ),
        marks=ReportMarks(
            load_start=load_start,
            method_start=facts.method_start,
            method_end=facts.method_end,
            observe_end=observe_end,
            fault_at=facts.fault_at,
            fault_issued_at=facts.fault_issued_at,
            detected_at=numbers.detected_at,
            failover_at=numbers.failover_at,
            recovery_at=facts.recovery_at,
            recovered_at=numbers.recovered_at,
        ),
        targets=Targets(
            nodes=sorted(targets.nodes), zones=sorted(targets.zones), etcd=targets.etcd
        ),
        baseline_shares=numbers.baseline_shares,
        served_during=dict(sorted(served.items())),
        hypothesis_before=facts.before,
        hypothesis_after=facts.after,
        steps=facts.steps,
        guard_trips=_trips(facts.guard_trip),
        rollbacks=facts.rollbacks,
        load=LoadSummary(
            host=spec.host if spec.enabled else "",
            users=spec.users if spec.enabled else 0,
            rate_per_user=spec.rate_per_user,
            target_rps=spec.target_rps,
            achieved_rps=len(records) / span if records and span > 0 else None,
        ),
        settings=settings.model_dump(mode="json"),
        events=[
            {"t": round(e.t, 3), "kind": e.kind, "subject": e.subject, "source": e.source}
            for e in facts.events
        ],
        notes=facts.notes,
        files={
            "report": REPORT_FILE,
            "markdown": MARKDOWN_FILE,
            "timeline_png": TIMELINE_PNG,
            "timeline_json": TIMELINE_JSON,
            "requests": REQUESTS_FILE if load is not None else "",
        },
    )
    (out_dir / TIMELINE_JSON).write_text(
        json.dumps({"bin_ms": settings.bin_ms, "bins": [b.to_json() for b in bins]}) + "\n"
    )
    hit = report.targets.zones or report.targets.nodes or (["etcd"] if targets.etcd else [])
    plot_timeline(
        bins,
        _markers(
            facts,
            {
                "fault": facts.fault_at,
                "detected": numbers.detected_at,
                "failover": numbers.failover_at,
                "recovery": facts.recovery_at,
                "recovered": numbers.recovered_at,
            },
            ", ".join(hit),
        ),
        out_dir / TIMELINE_PNG,
        origin=facts.method_start or load_start,
        title=f"{experiment.title} ({outcome})",
        success_threshold=settings.success_threshold,
    )
    if options.annotate and env.etcd_endpoints:
        try:
            key = await write_annotation(
                env.etcd_endpoints, env.cluster, annotation_of(report, str(out_dir))
            )
            report = report.model_copy(update={"notes": [*report.notes, f"annotation {key}"]})
        except (ZonegateError, OSError, ValueError) as exc:
            message = exc.message if isinstance(exc, ZonegateError) else str(exc)
            report = report.model_copy(
                update={"notes": [*report.notes, f"no etcd annotation: {message}"]}
            )
    write_markdown(report, out_dir)
    write_report_json(report, out_dir)
    return report
