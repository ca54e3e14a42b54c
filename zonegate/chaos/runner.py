"""Running one experiment: load, hypothesis, method under guards, rollbacks (always), report.

Rollbacks run whatever happened before them: after a completed method, after
an action failed, after a guard tripped, after Ctrl-C (SIGINT cancels the
method; a second Ctrl-C while rolling back is refused with a message), and
even when the task running the drill is cancelled (the rollbacks finish
first, then the cancellation goes on).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from rich.console import Console

from zonegate.chaos.actions import fault_targets, run_action
from zonegate.chaos.analysis import FaultTargets
from zonegate.chaos.context import DrillContext
from zonegate.chaos.control import ProcessView
from zonegate.chaos.environment import DrillEnvironment
from zonegate.chaos.errors import ActionFailed, ChaosError
from zonegate.chaos.guards import GuardBook, GuardTrip
from zonegate.chaos.live import LiveView
from zonegate.chaos.load.process import LoadProcess
from zonegate.chaos.observer import ClusterObserver
from zonegate.chaos.params import resolve_parameters
from zonegate.chaos.probes import run_probe
from zonegate.chaos.records import RequestRecord
from zonegate.chaos.report import DrillReport, Hypothesis, StepOutcome
from zonegate.chaos.reporting import RunFacts, finish_report
from zonegate.chaos.slo_link import Objectives, engine_budget, engine_burn_rate
from zonegate.chaos.spec.experiment import Experiment, ProbeStep, Step
from zonegate.chaos.spec.guards import BurnRateGuard, ErrorBudgetGuard
from zonegate.chaos.spec.loader import render

TRAFFIC_TIMEOUT_S = 30.0
SELF_RECOVERING = frozenset({"restart", "rolling_restart"})
INSTANT_FAULTS = frozenset(
    {"kill", "pause", "etcd_kill_leader", "toxic_add", "link_down", "backend_fault"}
)


@dataclass
class RunOptions:
    out_dir: Path
    drill: str
    source: str = ""
    overrides: dict[str, str] = field(default_factory=dict)
    live: bool = False
    annotate: bool = True
    console: Console = field(default_factory=Console)
    slo_files: list[Path] | None = None
    observe_interval_s: float = 0.05
    guard_interval_s: float = 0.25
    clock: Callable[[], float] = time.time
    records: list[RequestRecord] | None = None
    """requests recorded by someone else (when the experiment's load is disabled)"""


class MethodStopped(Exception):
    """The method ended early (an action failed); the reason is the message."""


class DrillRunner:
    def __init__(self, experiment: Experiment, env: DrillEnvironment, options: RunOptions) -> None:
        self.raw = experiment
        self.experiment = experiment
        self.env = env
        self.options = options
        self.clock = options.clock
        self.facts = RunFacts(started_at=self.clock())
        self.views: list[ProcessView] = []
        self.load: LoadProcess | None = None
        self.view = LiveView(experiment.title, options.console, live=options.live, clock=self.clock)
        self._main: asyncio.Task[None] | None = None
        self._follower: asyncio.Task[None] | None = None
        self._rolling_back = False
        self.sigint_handled = False

    # --- entry point ------------------------------------------------------------------
    async def run(self) -> DrillReport:
        self.options.out_dir.mkdir(parents=True, exist_ok=True)
        objectives = Objectives(self.options.slo_files)
        async with aiohttp.ClientSession() as session:
            observer = ClusterObserver(
                self.env.glb_admin_urls,
                self.env.etcd_urls,
                interval_s=self.options.observe_interval_s,
                clock=self.clock,
            )
            await observer.start()
            records = self.options.records if self.options.records is not None else []
            ctx = DrillContext(self.env, session, objectives, observer, records, self.clock)
            self.view.records = records
            try:
                await self._prepare(ctx)
                with self.view:
                    self.view.routing = observer.routing_shares
                    await self._run_guarded(ctx)
            finally:
                await observer.stop()
            self.facts.events = list(observer.events)
            return await finish_report(
                self.experiment, self.env, self.options, self.facts, ctx, self.load
            )

    async def _prepare(self, ctx: DrillContext) -> None:
        """Resolve parameters (``@primary_zone`` asks the GLB) and fill them in."""
        status = None
        for url in self.env.glb_admin_urls:
            assert ctx.observer is not None
            status = await ctx.observer.fetch_status(url)
            if status is not None:
                break
        params = resolve_parameters(
            self.raw.parameters, self.options.overrides, status, self.raw.load.region
        )
        self.facts.parameters = params
        self.experiment = render(self.raw, {**self.env.values(), **params})
        if self.env.control is not None:
            self.views = await self.env.control.processes()

    async def _run_guarded(self, ctx: DrillContext) -> None:
        loop = asyncio.get_running_loop()
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(signal.SIGINT, self._on_sigint)
            self.sigint_handled = True
        self._main = asyncio.create_task(self._main_flow(ctx), name="drill-main")
        try:
            try:
                await self._main
            except asyncio.CancelledError:
                if not self.facts.interrupted:
                    raise
                self.view.log("interrupted (Ctrl-C): rolling back")
            except ChaosError as exc:
                self.facts.failure = exc.message
                self.view.log(f"drill failed: {exc.message}")
            finally:
                await _complete(self._rollbacks(ctx))
                await _complete(self._stop_load(ctx))
        finally:
            if self.sigint_handled:
                loop.remove_signal_handler(signal.SIGINT)
                self.sigint_handled = False

    def _on_sigint(self) -> None:
        if self._rolling_back or self._main is None or self._main.done():
            self.view.log("rolling back: please wait (the rollbacks always run)")
            return
        self.facts.interrupted = True
        self._main.cancel()

    # --- phases -----------------------------------------------------------------------------
    async def _main_flow(self, ctx: DrillContext) -> None:
        spec = self.experiment.load
        if spec.enabled:
            self.view.set_phase("starting load")
            self.load = LoadProcess(spec, spec.host, self.options.out_dir)
            self.load.start(self.clock())
            ctx.records = self.load.records
            self.view.records = ctx.records
            self._follower = asyncio.create_task(self._follow_load(), name="drill-load-follower")
            await self.load.wait_for_traffic(TRAFFIC_TIMEOUT_S)
            self.facts.load_start = min((r.t for r in self.load.records), default=self.clock())
            self.view.set_phase(f"warm-up {spec.warmup_s:g}s")
            await asyncio.sleep(spec.warmup_s)
        else:
            self.facts.load_start = ctx.records[0].t if ctx.records else self.clock()
        steady = self.experiment.steady_state
        if steady is not None:
            self.view.set_phase("steady state (before)")
            self.facts.before = await self._hypothesis("before", steady.title, steady.probes, ctx)
            if not self.facts.before.met:
                self.facts.failure = "the steady-state hypothesis did not hold before the method"
                return
        await self._method_under_guards(ctx)
        if self.facts.guard_trip is not None or self.facts.failure:
            self.facts.observe_end = self.clock()
            return
        self.view.set_phase(f"observing {self.experiment.report.observe_after_s:g}s")
        await asyncio.sleep(self.experiment.report.observe_after_s)
        self.facts.observe_end = self.clock()
        if steady is not None:
            self.view.set_phase("steady state (after)")
            self.facts.after = await self._hypothesis("after", steady.title, steady.probes, ctx)

    async def _follow_load(self) -> None:
        while True:
            if self.load is not None:
                self.load.poll()
            self.view.refresh()
            await asyncio.sleep(0.1)

    async def _hypothesis(
        self, when: str, title: str, probes: list[ProbeStep], ctx: DrillContext
    ) -> Hypothesis:
        outcomes = []
        for index, item in enumerate(probes):
            started = self.clock()
            result = await run_probe(item.probe, ctx)
            outcomes.append(
                StepOutcome(
                    phase=f"hypothesis_{when}",
                    index=index,
                    name=item.label,
                    kind=item.probe.kind,
                    started_at=started,
                    ended_at=self.clock(),
                    ok=result.ok,
                    detail=result.detail,
                    value=result.value,
                )
            )
            self.view.log(f"probe {item.label}: {'ok' if result.ok else 'FAILED'} {result.detail}")
        return Hypothesis(title=title, met=all(o.ok for o in outcomes), probes=outcomes)

    async def _method_under_guards(self, ctx: DrillContext) -> None:
        self.view.set_phase("method")
        self.facts.method_start = self.clock()
        book = GuardBook(self.experiment.guards, ctx.objectives)
        self.view.guards = book
        method = asyncio.create_task(self._method(ctx), name="drill-method")
        try:
            while not method.done():
                external = await self._external_guard_values(ctx, book)
                trip = book.check(ctx.records, self.clock(), self.facts.method_start, external)
                if trip is not None:
                    self._tripped(trip)
                    method.cancel()
                    break
                await asyncio.wait({method}, timeout=self.options.guard_interval_s)
            with contextlib.suppress(asyncio.CancelledError):
                await method
        except asyncio.CancelledError:
            method.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await method
            raise
        finally:
            self.facts.method_end = self.clock()

    def _tripped(self, trip: GuardTrip) -> None:
        self.facts.guard_trip = trip
        self.view.log(f"GUARD TRIPPED: {trip.message}; aborting the method")

    async def _external_guard_values(
        self, ctx: DrillContext, book: GuardBook
    ) -> dict[int, float | None]:
        values: dict[int, float | None] = {}
        url = self.env.slo_url
        for index, guard in enumerate(book.guards):
            if url is None or getattr(guard, "source", "load") != "slo_api":
                continue
            if isinstance(guard, BurnRateGuard):
                values[index] = await engine_burn_rate(ctx.session, url, guard.slo, guard.window_s)
            elif isinstance(guard, ErrorBudgetGuard):
                start = self.facts.method_start or self.clock()
                values[index] = await engine_budget(
                    ctx.session, url, guard.slo, start, self.clock()
                )
        return values

    async def _method(self, ctx: DrillContext) -> None:
        start = self.facts.method_start or self.clock()
        for index, step in enumerate(self.experiment.method):
            if step.at_s is not None:
                await asyncio.sleep(max(0.0, start + step.at_s - self.clock()))
            await asyncio.sleep(step.pause_before_s)
            outcome = await self._step("method", index, step, ctx)
            self.facts.steps.append(outcome)
            if not outcome.ok and step.action is not None and not step.tolerate_failure:
                self.facts.failure = f"method step {index} ({step.label}) failed: {outcome.detail}"
                return
            await asyncio.sleep(step.pause_after_s)

    async def _step(self, phase: str, index: int, step: Step, ctx: DrillContext) -> StepOutcome:
        mark = step.effective_mark
        started = self.clock()
        self.view.log(f"{phase} {index}: {step.label} ({step.kind})")
        first_fault = phase == "method" and mark == "fault" and self.facts.fault_at is None
        if first_fault:
            self.facts.fault_at = self.facts.fault_issued_at = started
        if phase == "method" and mark == "recovery" and self.facts.recovery_at is None:
            self.facts.recovery_at = started if self.facts.fault_at is not None else None
        ok, detail, value, affected = True, "", None, []
        if step.action is not None:
            try:
                result = await run_action(step.action, ctx)
                detail, affected = result.detail, result.affected
                if phase == "method" and mark == "fault" and self.facts.targets is None:
                    self.facts.targets = fault_targets(step.action, result, self.views)
                if first_fault and step.kind in INSTANT_FAULTS:
                    self.facts.fault_at = self.clock()  # done when the API answered
                if phase == "method" and step.kind in SELF_RECOVERING:
                    # a restart is its own recovery: measured from when it is done
                    self.facts.recovery_at = self.facts.recovery_at or self.clock()
            except ActionFailed as exc:
                ok, detail = False, exc.message
                if phase == "method" and mark == "fault" and self.facts.targets is None:
                    self.facts.targets = FaultTargets()
        else:
            assert step.probe is not None
            probe = await run_probe(step.probe, ctx)
            ok, detail, value = probe.ok, probe.detail, probe.value
            if not ok:
                self.facts.deviations.append(f"method probe {index} ({step.label}): {detail}")
        self.view.log(f"  -> {'ok' if ok else 'FAILED'}: {detail}")
        return StepOutcome(
            phase=phase,
            index=index,
            name=step.label,
            kind=step.kind,
            mark=mark,
            started_at=started,
            ended_at=self.clock(),
            ok=ok,
            detail=detail,
            value=value,
            affected=affected,
        )

    async def _rollbacks(self, ctx: DrillContext) -> None:
        self._rolling_back = True
        if self.experiment.rollbacks:
            self.view.set_phase("rollbacks")
        for index, step in enumerate(self.experiment.rollbacks):
            outcome = await self._step("rollback", index, step, ctx)
            self.facts.rollbacks.append(outcome)

    async def _stop_load(self, ctx: DrillContext) -> None:
        if self._follower is not None:
            self._follower.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._follower
        if self.load is not None:
            self.view.set_phase("stopping load")
            await self.load.stop()
            ctx.records = self.load.records
        self.facts.load_end = self.clock()


async def _complete(coro: Coroutine[Any, Any, None]) -> None:
    """Await ``coro`` to the end even if the caller is cancelled meanwhile; then re-cancel."""
    task = asyncio.ensure_future(coro)
    cancelled = False
    while not task.done():
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            if task.done():
                break
            cancelled = True
    task.result()
    if cancelled:
        raise asyncio.CancelledError
