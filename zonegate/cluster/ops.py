"""The ``zonegate ctl`` operations, run inside the supervisor on its processes."""

from __future__ import annotations

import asyncio
from typing import Any

from zonegate.cluster import events as ev
from zonegate.cluster.errors import ControlError, UnknownTargetError
from zonegate.cluster.health import is_etcd_leader
from zonegate.cluster.plan import ETCD, GLB, NODE
from zonegate.cluster.process import PAUSED, RUNNING, ManagedProcess
from zonegate.cluster.supervisor import Supervisor
from zonegate.cluster.targets import Member, resolve
from zonegate.errors import ZonegateError

VERBS = ("kill", "pause", "resume", "stop", "drain", "start", "restart")
ETCD_VERBS = ("leader", "kill-leader", "stop", "start")


def members(sup: Supervisor) -> list[Member]:
    return [
        Member(m.name, m.spec.kind, m.spec.zone, m.spec.service) for m in sup.processes.values()
    ]


def select(sup: Supervisor, target: str) -> list[ManagedProcess]:
    return [sup.processes[name] for name in resolve(members(sup), target)]


async def run_op(sup: Supervisor, verb: str, target: str) -> dict[str, Any]:
    """Apply ``verb`` to the processes ``target`` designates; returns the names affected."""
    if verb not in VERBS:
        raise ControlError(f"unknown verb {verb!r}; use one of {', '.join(VERBS)}")
    chosen = select(sup, target)
    async with sup.lock:
        if verb == "drain":
            chosen = [m for m in chosen if m.spec.kind in (NODE, GLB)] or chosen
        if verb == "start":
            chosen = [m for m in chosen if not m.alive()]
        elif verb == "resume":
            chosen = [m for m in chosen if m.alive() and m.state == PAUSED]
        elif verb != "restart":
            chosen = [m for m in chosen if m.alive()]
        if verb == "kill":
            for member in chosen:
                member.kill()
        elif verb == "pause":
            for member in chosen:
                member.pause()
        elif verb == "resume":
            for member in chosen:
                member.resume()
        elif verb in ("stop", "drain"):  # SIGTERM: nodes drain (readiness 503, deregister)
            await sup.stop_members(chosen)
        elif verb == "start":
            await _start(sup, chosen)
        else:  # restart
            await sup.stop_members(chosen)
            await _start(sup, chosen)
        for member in chosen:
            sup.emit(ev.Event(ev.PROCESS, name=member.name, state=member.state, message=verb))
        sup.write_state()
    return {"verb": verb, "target": target, "affected": [m.name for m in chosen]}


async def _start(sup: Supervisor, chosen: list[ManagedProcess]) -> None:
    try:
        await sup.start_members(chosen)
    except ZonegateError as exc:
        for member in chosen:  # still running but not healthy: keep watching it
            if member.alive():
                member.state = RUNNING
                member.healthy = False
        raise ControlError(exc.message) from None


async def etcd_leader(sup: Supervisor) -> ManagedProcess | None:
    assert sup.session is not None
    session = sup.session
    candidates = [
        m
        for m in sup.processes.values()
        if m.spec.kind == ETCD and m.alive() and m.state == RUNNING
    ]
    results = await asyncio.gather(*(is_etcd_leader(session, m.spec.url) for m in candidates))
    return next((m for m, leader in zip(candidates, results, strict=True) if leader), None)


async def wait_etcd_leader(sup: Supervisor, timeout: float = 10.0) -> ManagedProcess:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        leader = await etcd_leader(sup)
        if leader is not None:
            return leader
        if loop.time() > deadline:
            raise ControlError(f"no etcd leader after {timeout:.0f}s (is a quorum running?)")
        await asyncio.sleep(0.05)


async def run_etcd_op(sup: Supervisor, verb: str, member: str | None) -> dict[str, Any]:
    """``leader``, ``kill-leader`` (SIGKILL the raft leader), ``stop``/``start`` members."""
    if verb not in ETCD_VERBS:
        raise ControlError(f"unknown etcd verb {verb!r}; use one of {', '.join(ETCD_VERBS)}")
    etcd = [m for m in sup.processes.values() if m.spec.kind == ETCD]
    if not etcd:
        raise ControlError("this cluster runs no etcd")
    if member:
        etcd = [m for m in etcd if member in (m.name, m.spec.zone)]
        if not etcd:
            raise UnknownTargetError(f"no etcd member {member!r}; see `zonegate ctl ps`")
    if verb == "leader":
        leader = await wait_etcd_leader(sup)
        return {"verb": verb, "leader": leader.name, "affected": []}
    async with sup.lock:
        if verb == "kill-leader":
            leader = await wait_etcd_leader(sup)
            leader.kill()
            chosen = [leader]
        elif verb == "stop":
            chosen = [m for m in etcd if m.alive()]
            for one in chosen:  # one by one, as etcd prefers
                await one.stop(sup.file.local.stop_timeout_s)
        else:
            chosen = [m for m in etcd if not m.alive()]
            await _start(sup, chosen)
        for one in chosen:
            sup.emit(ev.Event(ev.PROCESS, name=one.name, state=one.state, message=f"etcd {verb}"))
        sup.write_state()
    return {"verb": verb, "affected": [m.name for m in chosen]}
