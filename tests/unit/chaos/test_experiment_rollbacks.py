"""Rollbacks always run: after success, a failed action, a guard trip, Ctrl-C, cancellation.

The cluster is a fake :class:`DrillControl` that records what it is asked to do; the
drill's requests are injected (no load, no sockets).
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import signal
import time
from typing import Any

import pytest
from rich.console import Console

from zonegate.chaos.control import ProcessView
from zonegate.chaos.environment import DrillEnvironment
from zonegate.chaos.errors import ActionFailed
from zonegate.chaos.records import RequestRecord
from zonegate.chaos.runner import DrillRunner, RunOptions
from zonegate.chaos.spec import parse_experiment_text

VIEWS = [
    ProcessView("a-1", "node", "a"),
    ProcessView("a-2", "node", "a"),
    ProcessView("b-1", "node", "b"),
    ProcessView("catalog-a", "backend", "a", "catalog"),
]


class FakeCluster:
    def __init__(
        self,
        records: list[RequestRecord],
        fail: frozenset[tuple[str, str]] | set[tuple[str, str]] = frozenset(),
    ):
        self.records = records
        self.fail = set(fail)
        self.calls: list[tuple[str, str]] = []

    async def processes(self) -> list[ProcessView]:
        return list(VIEWS)

    def resolve(self, target: str) -> list[str]:
        return [v.name for v in VIEWS if target in (v.name, v.zone)]

    async def op(self, verb: str, target: str) -> list[str]:
        self.calls.append((verb, target))
        if (verb, target) in self.fail:
            raise ActionFailed(f"{verb} {target}: refused by the fake")
        if verb == "kill":  # the fault hurts: 100 failed requests right now
            now = time.time()
            self.records.extend(RequestRecord(now - i / 1000, 1.0, 0) for i in range(100))
        return self.resolve(target)

    async def etcd_kill_leader(self) -> list[str]:
        return ["etcd-a"]

    async def etcd_stop(self, member: str | None) -> list[str]:
        return []

    async def etcd_start(self, member: str | None) -> list[str]:
        return []

    async def set_fault(self, target: str, fault: dict[str, Any]) -> list[str]:
        return []

    async def clear_fault(self, target: str) -> list[str]:
        return []


def experiment(method: str, guards: str = "[]", steady: str = "") -> Any:
    return parse_experiment_text(
        f"""
title: fake drill
load: {{enabled: false}}
{steady}
method:
{method}
rollbacks:
  - {{name: start a, action: {{kind: start, target: a}}}}
  - {{name: start b, action: {{kind: start, target: b}}}}
guards: {guards}
report: {{observe_after_s: 0}}
"""
    )


def runner(
    tmp_path, exp: Any, fail: frozenset[tuple[str, str]] | set[tuple[str, str]] = frozenset()
):
    records: list[RequestRecord] = []
    cluster = FakeCluster(records, fail)
    env = DrillEnvironment(glb_urls=["http://127.0.0.1:9"], control=cluster)
    options = RunOptions(
        out_dir=tmp_path / "report",
        drill="fake",
        console=Console(file=io.StringIO(), force_terminal=False),
        records=records,
        annotate=False,
    )
    return DrillRunner(exp, env, options), cluster


ROLLBACKS = [("start", "a"), ("start", "b")]


async def test_rollbacks_run_after_a_completed_method(tmp_path) -> None:
    run, cluster = runner(
        tmp_path,
        experiment(
            "  - {name: kill a, action: {kind: kill, target: a}}\n"
            "  - {name: start a, action: {kind: start, target: a}}"
        ),
    )
    report = await run.run()
    assert report.outcome == "completed"
    assert cluster.calls == [("kill", "a"), ("start", "a"), *ROLLBACKS]
    assert [r.name for r in report.rollbacks] == ["start a", "start b"]
    assert report.rollbacks_done == 2
    assert report.targets.nodes == ["a-1", "a-2"] and report.targets.zones == ["a"]
    assert report.marks.fault_at is not None and report.marks.recovery_at is not None
    assert report.metrics.requests_failed == 100
    for name in ("report.json", "report.md", "timeline.png", "timeline.json"):
        assert (tmp_path / "report" / name).stat().st_size > 0
    saved = json.loads((tmp_path / "report" / "report.json").read_text())
    assert saved["outcome"] == "completed"


async def test_rollbacks_run_when_an_action_fails(tmp_path) -> None:
    run, cluster = runner(
        tmp_path,
        experiment(
            "  - {name: kill a, action: {kind: kill, target: a}}\n"
            "  - {name: never, action: {kind: kill, target: b}}"
        ),
        fail={("kill", "a"), ("start", "a")},
    )
    report = await run.run()
    assert report.outcome == "failed"
    assert "method step 0 (kill a) failed" in report.outcome_reason
    assert cluster.calls == [("kill", "a"), *ROLLBACKS]  # "never" did not run
    # A failing rollback is reported and does not stop the next one.
    assert [r.ok for r in report.rollbacks] == [False, True]
    assert "refused by the fake" in report.rollbacks[0].detail


async def test_a_tolerated_failure_lets_the_method_go_on(tmp_path) -> None:
    run, cluster = runner(
        tmp_path,
        experiment(
            "  - {name: kill a, action: {kind: kill, target: a}, tolerate_failure: true}\n"
            "  - {name: kill b, action: {kind: kill, target: b}}"
        ),
        fail={("kill", "a")},
    )
    report = await run.run()
    assert cluster.calls == [("kill", "a"), ("kill", "b"), *ROLLBACKS]
    assert report.outcome == "completed"


async def test_rollbacks_run_when_a_guard_trips(tmp_path) -> None:
    run, cluster = runner(
        tmp_path,
        experiment(
            "  - {name: kill a, action: {kind: kill, target: a}}\n"
            "  - {name: long wait, action: {kind: wait, seconds: 30}}\n"
            "  - {name: never, action: {kind: kill, target: b}}",
            guards="[{kind: error_rate, max: 0.5, window_s: 5}]",
        ),
    )
    report = await run.run()
    assert report.marks.method_start is not None and report.marks.method_end is not None
    method_s = report.marks.method_end - report.marks.method_start
    assert method_s < 5, "the guard did not cut the 30 s wait short"
    assert report.outcome == "aborted"
    assert cluster.calls == [("kill", "a"), *ROLLBACKS]
    assert len(report.guard_trips) == 1
    trip = report.guard_trips[0]
    assert trip.kind == "error_rate" and trip.value == 1.0
    assert report.rollbacks_done == 2
    assert report.hypothesis_after is None


async def test_rollbacks_run_on_ctrl_c(tmp_path) -> None:
    run, cluster = runner(
        tmp_path,
        experiment("  - {name: long wait, action: {kind: wait, seconds: 30}}"),
    )
    task = asyncio.create_task(run.run())
    deadline = time.monotonic() + 5
    while not (run.sigint_handled and run.facts.method_start):
        assert time.monotonic() < deadline, "the drill never reached its method"
        await asyncio.sleep(0.01)
    assert signal.getsignal(signal.SIGINT) is not signal.default_int_handler or run.sigint_handled
    os.kill(os.getpid(), signal.SIGINT)
    report = await asyncio.wait_for(task, 5)
    assert report.outcome == "interrupted"
    assert cluster.calls == ROLLBACKS
    assert not run.sigint_handled  # the handler is removed again


async def test_rollbacks_finish_even_when_the_drill_task_is_cancelled(tmp_path) -> None:
    run, cluster = runner(
        tmp_path,
        experiment("  - {name: long wait, action: {kind: wait, seconds: 30}}"),
    )
    task = asyncio.create_task(run.run())
    deadline = time.monotonic() + 5
    while not run.facts.method_start:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert cluster.calls == ROLLBACKS


async def test_no_method_when_the_hypothesis_does_not_hold_but_rollbacks_run(tmp_path) -> None:
    run, cluster = runner(
        tmp_path,
        experiment(
            "  - {name: kill a, action: {kind: kill, target: a}}",
            steady="steady_state: {probes: [{name: traffic, probe: {kind: error_rate}}]}",
        ),
    )
    report = await run.run()
    assert report.outcome == "failed"
    assert "did not hold before" in report.outcome_reason
    assert report.hypothesis_before is not None and not report.hypothesis_before.met
    assert "only 0 requests" in report.hypothesis_before.probes[0].detail
    assert cluster.calls == ROLLBACKS
    assert report.steps == []
