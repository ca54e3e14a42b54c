"""The report document: Markdown, reading it back, comparing two, the live view."""

from __future__ import annotations

import io
import json

import pytest
from rich.console import Console

from zonegate.chaos.annotate import annotation_of
from zonegate.chaos.compare import compare, hypothesis_rows
from zonegate.chaos.errors import ReportError
from zonegate.chaos.live import LiveView, window_stats
from zonegate.chaos.records import RequestRecord
from zonegate.chaos.report import (
    DrillReport,
    GuardTripOut,
    Hypothesis,
    Marks,
    Metrics,
    StepOutcome,
    read_report,
    render_markdown,
    write_report_json,
)
from zonegate.slo.discovery import parse_event


def report(**metrics: object) -> DrillReport:
    step = StepOutcome(
        phase="method",
        index=0,
        name="kill a",
        kind="kill",
        mark="fault",
        started_at=101.0,
        ended_at=101.2,
        ok=True,
        detail="kill a: a-1|a-2",
    )
    probe = StepOutcome(
        phase="hypothesis_before",
        index=0,
        name="few errors",
        kind="error_rate",
        started_at=99.0,
        ended_at=99.0,
        ok=True,
        detail="0/100 failed",
    )
    values = {
        "time_to_detect_s": 0.25,
        "time_to_failover_s": 0.5,
        "time_to_recover_s": None,
        "requests_total": 1000,
        "requests_failed": 3,
        "error_rate_during": 0.004,
        "p99_during_ms": 120.0,
        "error_budget_consumed": 1.5e-5,
        "error_budget_source": "load",
        "error_budget_slo": "edge-availability",
        **metrics,
    }
    return DrillReport(
        drill="zone-outage",
        title="Zone outage",
        started_at=95.0,
        ended_at=120.0,
        outcome="completed",
        metrics=Metrics.model_validate(values),
        marks=Marks(method_start=100.0, fault_at=101.0, observe_end=110.0),
        hypothesis_before=Hypothesis(title="healthy", met=True, probes=[probe]),
        steps=[step],
        rollbacks=[step.model_copy(update={"phase": "rollback", "started_at": 111.0})],
        guard_trips=[
            GuardTripOut(
                at=105.0,
                guard=0,
                kind="error_rate",
                value=0.6,
                bound=0.5,
                message="guard 0 (error_rate): too many",
            )
        ],
        parameters={"zone": "a"},
    )


def test_markdown_has_the_numbers_steps_and_marks() -> None:
    text = render_markdown(report())
    assert "# Drill report: Zone outage" in text
    assert "| time_to_detect_s | 0.250 s |" in text
    assert "| time_to_recover_s | n/a |" in text
    assert "| error_rate_during | 0.400 % |" in text
    assert "| error_budget_consumed | 0.0015 % of edge-availability (load) |" in text
    assert "| +1.000s | kill a | kill | ok | kill a: a-1\\|a-2 |" in text  # pipes escaped
    assert "- tripped at +5.000s: guard 0 (error_rate): too many" in text
    assert "**after**: not checked" in text
    assert "1 of 1 rollbacks done." in text
    assert "- parameters: zone=a" in text


def test_report_round_trip_and_bad_reports(tmp_path) -> None:
    original = report()
    write_report_json(original, tmp_path)
    assert read_report(tmp_path) == original
    assert read_report(tmp_path / "report.json") == original
    (tmp_path / "other.json").write_text(json.dumps({"drill": "x"}))
    with pytest.raises(ReportError, match="not a drill report"):
        read_report(tmp_path / "other.json")
    with pytest.raises(ReportError, match="cannot read"):
        read_report(tmp_path / "missing")
    (tmp_path / "junk.json").write_text("{")
    with pytest.raises(ReportError, match="not JSON"):
        read_report(tmp_path / "junk.json")


def test_compare_says_what_got_better() -> None:
    a = report()
    b = report(
        time_to_failover_s=0.2, p99_during_ms=300.0, error_rate_during=0.004, time_to_recover_s=4.0
    )
    rows = {row.metric: row for row in compare(a, b)}
    assert rows["time_to_failover_s"].verdict == "better"
    assert rows["time_to_failover_s"].delta == "-0.300 s"
    assert rows["p99_during_ms"].verdict == "worse"
    assert rows["p99_during_ms"].delta == "+180.0 ms"
    assert rows["error_rate_during"].verdict == "same"
    assert rows["time_to_recover_s"].a == "n/a" and rows["time_to_recover_s"].verdict == ""
    assert rows["requests_total"].verdict == ""  # more or fewer requests is neither
    assert [r.a for r in hypothesis_rows(a, b)] == ["met", "not checked"]


def test_annotation_is_what_the_dashboard_reads() -> None:
    value = annotation_of(report(), "/tmp/r")
    assert value["at"] == 101.0 and value["end"] == 110.0
    event = parse_event("000000000101000", json.dumps(value).encode())
    assert event is not None
    assert event.text == "drill zone-outage: completed"
    assert event.kind == "drill" and event.end == 110.0


def test_live_view_window_and_plain_lines() -> None:
    now = 200.0
    records = [RequestRecord(199.0 + i / 100, 5.0, 200, "a" if i % 4 else "b") for i in range(80)]
    records += [RequestRecord(199.5, 50.0, 0)] * 20
    stats = window_stats(records, now)
    assert stats["rps"] == 100.0
    assert stats["error_rate"] == pytest.approx(0.2)
    assert stats["shares"] == {"a": 0.75, "b": 0.25}
    out = io.StringIO()
    view = LiveView("t", Console(file=out, width=100), live=False, clock=lambda: now)
    view.records = records
    view.set_phase("method")
    view.log("kill a")
    assert "phase: method" in out.getvalue() and "kill a" in out.getvalue()
    panel = io.StringIO()
    Console(file=panel, width=100).print(view.render())
    rendered = panel.getvalue()
    assert "error rate (1 s)" in rendered and "20.00%" in rendered
    assert "a 75%, b 25%" in rendered


def test_live_panel_in_a_terminal() -> None:
    out = io.StringIO()
    console = Console(file=out, width=100, force_terminal=True)
    view = LiveView("drill", console, live=True, clock=lambda: 200.0)
    view.records = [RequestRecord(199.5, 5.0, 200, "a")] * 10
    view.routing = lambda: {"a": 1.0}
    with view:
        view.set_phase("method")
        view.log("kill a")
        view.refresh()
    text = out.getvalue()
    assert "drill: drill" in text and "GLB routing" in text and "kill a" in text
