"""Run a composition plan: every call starts as soon as the calls it needs are done.

The engine is injected as ``send(call) -> (status, headers, body)``, so this
runs (and is tested) without a node. Each call gets ``min(its timeout, what is
left of the route's deadline)``. A failed required call cancels the rest and
fails the request (502, or 504 when it timed out) naming the call; failed
optional calls are left out and listed in ``X-Zonegate-Partial``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from zonegate import conventions as cv
from zonegate.node.compose.plan import CompositionPlan, PlannedCall
from zonegate.node.compose.template import Inputs, TemplateError
from zonegate.node.http import Headers


@dataclass(frozen=True, slots=True)
class UpstreamCall:
    """One GET the engine sends to a cluster (target = path + query, already encoded)."""

    name: str
    cluster: str
    method: str
    target: str
    headers: Headers
    timeout_s: float


SendCall = Callable[[UpstreamCall], Awaitable[tuple[int, Headers, bytes]]]
CallReport = Callable[[str, str, float], None]
"""(call name, outcome: ok|failed|timeout|skipped, seconds) -> None; for metrics."""


@dataclass(slots=True)
class CallOutcome:
    name: str
    ok: bool
    body: Any = None
    reason: str = ""
    timed_out: bool = False
    status: int = 0


@dataclass(frozen=True, slots=True)
class CompositionResult:
    status: int
    body: bytes = b""
    code: str = ""
    message: str = ""
    failed_call: str = ""
    partial: tuple[str, ...] = ()


def _no_report(name: str, outcome: str, seconds: float) -> None:
    return None


class Execution:
    """One composed request (create per request, then ``await run()``)."""

    def __init__(
        self,
        plan: CompositionPlan,
        inputs: Inputs,
        headers: Headers,
        send: SendCall,
        timeout_s: float,
        report: CallReport = _no_report,
    ) -> None:
        self.plan = plan
        self.inputs = inputs
        self.headers = headers
        self.send = send
        self.timeout_s = timeout_s
        self.report = report
        self.results: dict[str, Any] = {}
        self.loop = asyncio.get_running_loop()
        self.deadline = self.loop.time() + timeout_s

    async def run(self) -> CompositionResult:
        problem = self._missing_inputs()
        if problem:
            return CompositionResult(400, code=cv.ERR_BAD_REQUEST, message=problem)
        tasks: dict[str, asyncio.Task[CallOutcome]] = {}
        for call in self.plan.calls:
            deps = [tasks[d] for d in call.dependencies]
            tasks[call.name] = asyncio.create_task(self._run(call, deps), name=f"call:{call.name}")
        outcomes: dict[str, CallOutcome] = {}
        try:
            for finished in asyncio.as_completed(list(tasks.values())):
                outcome = await finished
                outcomes[outcome.name] = outcome
                if not outcome.ok and self.plan.call(outcome.name).required:
                    return self._failure(outcome)
        finally:
            pending = [t for t in tasks.values() if not t.done()]
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.gather(*pending, return_exceptions=True)
        return self._merge(outcomes)

    def _missing_inputs(self) -> str:
        for name in sorted(self.plan.path_params):
            if self.inputs.path.get(name) is None:
                return f"missing path parameter {name!r}"
        for name in sorted(self.plan.query_params):
            if name not in self.inputs.query:
                return f"missing query parameter {name!r}"
        return ""

    async def _run(self, call: PlannedCall, deps: list[asyncio.Task[CallOutcome]]) -> CallOutcome:
        for dep in deps:
            done = await dep
            if not done.ok:
                self.report(call.name, "skipped", 0.0)
                return CallOutcome(call.name, False, reason=f"its dependency {done.name!r} failed")
        started = self.loop.time()
        outcome = await self._send(call)
        self.report(
            call.name,
            "ok" if outcome.ok else "timeout" if outcome.timed_out else "failed",
            self.loop.time() - started,
        )
        if outcome.ok:
            self.results[call.name] = outcome.body
        return outcome

    async def _send(self, call: PlannedCall) -> CallOutcome:
        try:
            target = call.template.render(Inputs(self.inputs.path, self.inputs.query, self.results))
        except TemplateError as exc:
            return CallOutcome(call.name, False, reason=str(exc))
        remaining = self.deadline - self.loop.time()
        timeout = min(call.timeout_s, remaining)
        if timeout <= 0:
            return CallOutcome(call.name, False, reason="no time left", timed_out=True)
        request = UpstreamCall(call.name, call.cluster, "GET", target, self.headers, timeout)
        try:
            async with asyncio.timeout(timeout):
                status, _, body = await self.send(request)
        except TimeoutError:
            return CallOutcome(
                call.name, False, reason=f"timed out after {timeout:.3g}s", timed_out=True
            )
        except Exception as exc:  # any failure of one call is that call's outcome
            return CallOutcome(call.name, False, reason=f"{type(exc).__name__}: {exc}")
        if not 200 <= status < 300:
            return CallOutcome(
                call.name, False, reason=f"upstream answered {status}", status=status
            )
        if not body.strip():
            return CallOutcome(call.name, False, reason="upstream answered an empty body")
        try:
            parsed = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            return CallOutcome(call.name, False, reason="upstream answered non-JSON", status=status)
        if self.plan.merge == "top_level" and call.output_key and not isinstance(parsed, dict):
            return CallOutcome(
                call.name, False, reason="upstream answered JSON that is not an object"
            )
        return CallOutcome(call.name, True, body=parsed, status=status)

    def _failure(self, outcome: CallOutcome) -> CompositionResult:
        if outcome.timed_out:
            return CompositionResult(
                504,
                code=cv.ERR_UPSTREAM_TIMEOUT,
                message=f"required call {outcome.name!r} {outcome.reason}",
                failed_call=outcome.name,
            )
        return CompositionResult(
            502,
            code=cv.ERR_COMPOSITION_FAILED,
            message=f"required call {outcome.name!r} failed: {outcome.reason}",
            failed_call=outcome.name,
        )

    def _merge(self, outcomes: dict[str, CallOutcome]) -> CompositionResult:
        merged: dict[str, Any] = {}
        partial: list[str] = []
        for name in self.plan.output_order:
            call = self.plan.call(name)
            outcome = outcomes.get(name)
            if outcome is None or not outcome.ok:
                partial.append(name)
                continue
            if call.output_key is None:
                continue
            if self.plan.merge == "top_level":
                merged.update(outcome.body)
            else:
                merged[call.output_key] = outcome.body
        body = json.dumps(merged, separators=(",", ":"), ensure_ascii=False).encode()
        return CompositionResult(200, body=body, partial=tuple(partial))


async def execute(
    plan: CompositionPlan,
    inputs: Inputs,
    headers: Headers,
    send: SendCall,
    timeout_s: float,
    report: CallReport = _no_report,
) -> CompositionResult:
    """Run ``plan`` for one request within ``timeout_s``."""
    return await Execution(plan, inputs, headers, send, timeout_s, report).run()
