"""The supervisor: start the cluster in dependency order, watch it, stop it in reverse.

Phases: etcd -> config applied -> demo backends -> gateway nodes -> GLB. Each
process is waited for until its health check passes; if one exits or stays
unhealthy, everything started so far is stopped again (rollback) and the
error says which process failed, with the tail of its log.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import shutil
import sys
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from types import TracebackType

import aiohttp

from zonegate.chaos import links as fault_links
from zonegate.cluster import events as ev
from zonegate.cluster.configapply import apply_gateway_config
from zonegate.cluster.errors import ClusterError, ProcessStartError
from zonegate.cluster.health import probe
from zonegate.cluster.plan import (
    COOKIE_KEY_FILE,
    ETCD,
    KINDS,
    PHASE_TITLES,
    PHASES,
    Features,
    Plan,
    PlanInputs,
    PortPicker,
    build_plan,
)
from zonegate.cluster.ports import PortPicker as FreePortPicker
from zonegate.cluster.process import (
    DOWN_STATES,
    EXITED,
    FAILED,
    PAUSED,
    RUNNING,
    STARTING,
    ManagedProcess,
)
from zonegate.cluster.spec import ClusterFile
from zonegate.cluster.state import ClusterState, ProcessInfo, remove_state, write_state
from zonegate.config.loader import parse_config
from zonegate.errors import ConfigError

MONITOR_INTERVAL_S = 0.2
HEALTH_INTERVAL_S = 1.0


def zonegate_command() -> tuple[str, ...]:
    """``zonegate`` for child processes (the fast launcher: one command module imported)."""
    return (sys.executable, "-m", "zonegate.cluster.launch")


def phases(members: Iterable[ManagedProcess]) -> list[list[ManagedProcess]]:
    """``members`` grouped by start phase, in start order (kinds of a phase start together)."""
    by_phase: dict[int, list[ManagedProcess]] = {}
    for member in members:
        by_phase.setdefault(member.spec.phase, []).append(member)
    return [by_phase[phase] for phase in sorted(by_phase)]


def phase_title(group: Sequence[ManagedProcess]) -> str:
    kinds = sorted({m.spec.kind for m in group}, key=KINDS.index)
    return " + ".join(PHASE_TITLES[kind] for kind in kinds)


class Supervisor:
    """Owns every process of one local cluster; use ``async with`` (exit stops everything)."""

    def __init__(
        self,
        file: ClusterFile,
        run_dir: Path,
        *,
        emit: ev.Emit = ev.ignore,
        features: Features | None = None,
        etcd_binary: str | None = None,
        pick_port: PortPicker | None = None,
    ) -> None:
        self.file = file
        self.run_dir = run_dir.resolve()
        self.emit = emit
        self.features = features
        self.etcd_binary = etcd_binary
        self.pick_port: PortPicker = pick_port or FreePortPicker()
        self.token = secrets.token_urlsafe(18)
        self.control_url = ""
        self.status = "starting"
        self.started_at = time.time()
        self.ready_seconds: float | None = None
        self.phase_seconds: dict[str, float] = {}
        self.plan: Plan | None = None
        self.processes: dict[str, ManagedProcess] = {}
        self.lock = asyncio.Lock()
        self.session: aiohttp.ClientSession | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._stopped = False
        self._finished = False
        self.force = False

    # --- lifecycle ----------------------------------------------------------------
    async def __aenter__(self) -> Supervisor:
        self.session = aiohttp.ClientSession()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            await self.shutdown()
        finally:
            if self.session is not None:
                await self.session.close()

    @property
    def log_dir(self) -> Path:
        return self.run_dir / "logs"

    def prepare(self) -> Plan:
        """Clean the run dir, pick ports, render and validate the gateway config."""
        from zonegate.coordinator.errors import EtcdBinaryNotFoundError
        from zonegate.coordinator.etcd_server import find_etcd_binary

        self.run_dir.mkdir(parents=True, exist_ok=True)
        for stale in ("logs", "etcd"):
            shutil.rmtree(self.run_dir / stale, ignore_errors=True)
        for stale_file in ("slo.db", COOKIE_KEY_FILE):
            (self.run_dir / stale_file).unlink(missing_ok=True)
        self.log_dir.mkdir()
        key = os.open(self.run_dir / COOKIE_KEY_FILE, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(key, "w") as handle:  # signs the GLBs' affinity cookies, shared by all
            handle.write(secrets.token_urlsafe(32))
        binary = self.etcd_binary
        if binary is None and self.file.local.etcd.enabled:
            try:
                binary = str(find_etcd_binary())
            except EtcdBinaryNotFoundError as exc:
                raise ClusterError(
                    f"cannot start etcd: {exc.message}", code="etcd_missing"
                ) from None
        if self.features is None:
            from zonegate.cluster.features import detect_features

            self.features = detect_features()
        inputs = PlanInputs(
            file=self.file,
            run_dir=self.run_dir,
            zonegate=zonegate_command(),
            etcd_binary=binary or "etcd",
            features=self.features,
            etcd_token=f"zonegate-{os.getpid()}-{secrets.token_hex(4)}",
        )
        plan = build_plan(inputs, self.pick_port)
        plan = fault_links.apply(plan, self.file, self.run_dir, self.pick_port)
        try:
            parse_config(plan.gateway)
        except ConfigError as exc:
            raise ClusterError(
                "the gateway config is not valid: " + "; ".join(exc.problems), code="invalid_config"
            ) from None
        (self.run_dir / "gateway.json").write_text(json.dumps(plan.gateway, indent=2))
        self.plan = plan
        self.processes = {p.name: ManagedProcess(p, self.log_dir) for p in plan.processes}
        return plan

    async def start(self) -> None:
        """Bring the whole cluster up; on any failure stop what started and raise."""
        began = time.monotonic()
        plan = self.plan or self.prepare()
        self.emit(
            ev.Event(
                ev.PLAN,
                data={
                    "processes": [
                        {"name": p.name, "kind": p.kind, "zone": p.zone, "phase": p.phase}
                        for p in plan.processes
                    ]
                },
            )
        )
        self.write_state()
        try:
            for group in phases(self.processes.values()):
                title = phase_title(group)
                phase_began = time.monotonic()
                self.emit(ev.Event(ev.PHASE, name=title))
                await self._start_group(group, self.file.local.start_timeout_s)
                self.phase_seconds[title] = round(time.monotonic() - phase_began, 2)
                if group[0].spec.phase == PHASES[ETCD]:
                    phase_began = time.monotonic()
                    await self._apply_config(plan)
                    self.phase_seconds["config"] = round(time.monotonic() - phase_began, 2)
        except BaseException:
            self.status = "failed"
            await self.shutdown()
            raise
        self.status = "running"
        self.ready_seconds = time.monotonic() - began
        self.write_state()
        self._tasks = [
            asyncio.create_task(self._monitor(), name="cluster-monitor"),
            asyncio.create_task(self._health_loop(), name="cluster-health"),
        ]

    async def _apply_config(self, plan: Plan) -> None:
        if not plan.etcd_endpoints:
            return
        self.emit(ev.Event(ev.PHASE, name="config"))
        message = await apply_gateway_config(list(plan.etcd_endpoints), plan.gateway)
        self.emit(ev.Event(ev.NOTE, message=message))

    async def shutdown(self) -> None:
        """Stop every process in reverse dependency order (drain first), then clean up."""
        if self._stopped:
            return
        self._stopped = True
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self.status != "failed":
            self.status = "stopping"
        self.emit(ev.Event(ev.STOPPING))
        async with self.lock:
            await self.stop_members(self.processes.values())
        shutil.rmtree(self.run_dir / "etcd", ignore_errors=True)
        (self.run_dir / COOKIE_KEY_FILE).unlink(missing_ok=True)
        self._finished = True
        remove_state(self.run_dir)
        self.emit(ev.Event(ev.STOPPED))

    # --- starting and stopping groups ------------------------------------------------
    async def _start_group(self, group: Sequence[ManagedProcess], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        for member in group:
            member.start()
            self.emit(ev.Event(ev.PROCESS, name=member.name, state=STARTING))
        self.write_state()
        try:
            async with asyncio.TaskGroup() as tasks:
                for member in group:
                    tasks.create_task(self._wait_healthy(member, deadline, timeout))
        except ExceptionGroup as group_error:
            first = group_error.exceptions[0]
            raise first from None
        finally:
            self.write_state()

    async def _wait_healthy(self, member: ManagedProcess, deadline: float, timeout: float) -> None:
        assert self.session is not None
        while True:
            code = member.poll()
            if code is not None:
                member.state = FAILED
                self.emit(ev.Event(ev.PROCESS, name=member.name, state=FAILED))
                raise ProcessStartError(
                    f"{member.name} exited with code {code} while starting "
                    f"(log: {member.log_path}):\n{member.tail()}"
                )
            if await probe(self.session, member.spec.health):
                member.state = RUNNING
                member.healthy = True
                self.emit(ev.Event(ev.PROCESS, name=member.name, state="healthy"))
                return
            if time.monotonic() > deadline:
                member.state = FAILED
                self.emit(ev.Event(ev.PROCESS, name=member.name, state=FAILED))
                raise ProcessStartError(
                    f"{member.name} was not healthy after {timeout:.0f}s "
                    f"(log: {member.log_path}):\n{member.tail()}"
                )
            await asyncio.sleep(0.05)

    async def _stop_one(self, member: ManagedProcess) -> None:
        if member.alive():
            self.emit(ev.Event(ev.PROCESS, name=member.name, state="stopping"))
            timeout = 0.0 if self.force else self.file.local.stop_timeout_s
            clean = await member.stop(timeout)
            state = "stopped" if clean else "killed after timeout"
            self.emit(ev.Event(ev.PROCESS, name=member.name, state=state))
            self.write_state()

    async def start_members(self, members: Iterable[ManagedProcess]) -> None:
        """Start stopped processes again (dependency order), each until healthy."""
        for group in phases(m for m in members if not m.alive()):
            await self._start_group(group, self.file.local.start_timeout_s)

    async def stop_members(self, members: Iterable[ManagedProcess]) -> None:
        """Graceful stop: reverse dependency order, a phase at a time; etcd members one
        by one (stopping them together makes the leader wait for a leadership transfer)."""
        for group in reversed(phases(members)):
            members_etcd = [m for m in group if m.spec.kind == ETCD]
            await asyncio.gather(*(self._stop_one(m) for m in group if m.spec.kind != ETCD))
            for member in members_etcd:
                await self._stop_one(member)

    # --- watching ------------------------------------------------------------------
    async def _monitor(self) -> None:
        while True:
            await asyncio.sleep(MONITOR_INTERVAL_S)
            changed = False
            for member in self.processes.values():
                if member.state in (RUNNING, STARTING, PAUSED) and member.poll() is not None:
                    member.state = EXITED
                    member.healthy = False
                    changed = True
                    self.emit(
                        ev.Event(
                            ev.PROCESS,
                            name=member.name,
                            state=EXITED,
                            message=f"exited with code {member.exit_code}",
                        )
                    )
            if changed:
                self.write_state()

    async def _health_loop(self) -> None:
        assert self.session is not None
        session = self.session
        while True:
            await asyncio.sleep(HEALTH_INTERVAL_S)
            live = [m for m in self.processes.values() if m.state == RUNNING]
            results = await asyncio.gather(*(probe(session, m.spec.health) for m in live))
            changed = False
            for member, healthy in zip(live, results, strict=True):
                if member.state == RUNNING and member.healthy != healthy:
                    member.healthy = healthy
                    changed = True
            if changed:
                self.write_state()

    # --- state ----------------------------------------------------------------------
    def snapshot(self) -> ClusterState:
        plan = self.plan
        infos = [
            ProcessInfo(
                name=m.name,
                kind=m.spec.kind,
                zone=m.spec.zone,
                region=m.spec.region,
                state=m.state,
                address=m.spec.address,
                url=m.spec.url,
                log=str(m.log_path),
                pid=m.pid if m.state not in DOWN_STATES else None,
                healthy=m.healthy,
                admin=m.spec.admin,
                service=m.spec.service,
                exit_code=m.exit_code,
                started_at=m.started_at,
            )
            for m in self.processes.values()
        ]
        glbs = [i.url for i in infos if i.kind == "glb"]
        entry = glbs or [i.url for i in infos if i.kind == "node"]
        return ClusterState(
            cluster=plan.cluster if plan else self.file.cluster_name,
            run_dir=str(self.run_dir),
            supervisor_pid=os.getpid(),
            control_url=self.control_url,
            token=self.token,
            status=self.status,
            started_at=self.started_at,
            etcd_endpoints=list(plan.etcd_endpoints) if plan else [],
            processes=infos,
            entry_points=entry,
            ready_seconds=self.ready_seconds,
            phase_seconds=dict(self.phase_seconds),
        )

    def write_state(self) -> None:
        if not self._finished:
            write_state(self.run_dir, self.snapshot())
