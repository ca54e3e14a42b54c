"""Carrying out actions: processes through the cluster control, etcd, network toxics
through the Toxiproxy API, backend faults through the demo backends' knob."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field

import aiohttp

from zonegate.chaos.analysis import FaultTargets
from zonegate.chaos.context import DrillContext
from zonegate.chaos.control import DrillControl, ProcessView, nodes_of, whole_zones
from zonegate.chaos.errors import ActionFailed
from zonegate.chaos.observer import node_health
from zonegate.chaos.spec.actions import (
    PROCESS_KINDS,
    Action,
    BackendFaultAction,
    BackendFaultClearAction,
    EtcdKillLeaderAction,
    EtcdStartAction,
    EtcdStopAction,
    HttpAction,
    LinkDownAction,
    LinkUpAction,
    RollingRestartAction,
    ToxicAddAction,
    ToxicRemoveAction,
    WaitAction,
)
from zonegate.chaos.toxiproxy_client import ToxiproxyClient

REJOIN_TIMEOUT_S = 20.0


@dataclass(frozen=True)
class ActionResult:
    affected: list[str] = field(default_factory=list)
    detail: str = ""


def _control(ctx: DrillContext) -> DrillControl:
    if ctx.env.control is None:
        raise ActionFailed("this drill has no cluster to act on (run it against `zonegate up`)")
    return ctx.env.control


def _toxiproxy(ctx: DrillContext) -> ToxiproxyClient:
    if not ctx.env.toxiproxy_url:
        raise ActionFailed(
            "no fault proxy: start the cluster with fault proxies (local.fault_proxies in the "
            "cluster file) or pass --toxiproxy URL"
        )
    return ToxiproxyClient(ctx.session, ctx.env.toxiproxy_url)


async def run_action(action: Action, ctx: DrillContext) -> ActionResult:
    """Carry out ``action``; :class:`ActionFailed` says why it could not be done."""
    kind = action.kind
    if kind in PROCESS_KINDS:
        target = getattr(action, "target")  # noqa: B009 - every process action has one
        affected = await _control(ctx).op(kind, target)
        if not affected and kind not in ("resume", "start"):
            raise ActionFailed(f"{kind} {target}: no running process matched")
        return ActionResult(affected, f"{kind} {target}: {', '.join(affected) or 'nothing to do'}")
    if isinstance(action, RollingRestartAction):
        return await _rolling_restart(action, ctx)
    if isinstance(action, EtcdKillLeaderAction):
        affected = await _control(ctx).etcd_kill_leader()
        return ActionResult(affected, f"killed the etcd leader {', '.join(affected)}")
    if isinstance(action, EtcdStopAction):
        affected = await _control(ctx).etcd_stop(action.member)
        return ActionResult(affected, f"stopped etcd: {', '.join(affected) or 'none running'}")
    if isinstance(action, EtcdStartAction):
        affected = await _control(ctx).etcd_start(action.member)
        return ActionResult(affected, f"started etcd: {', '.join(affected) or 'all running'}")
    if isinstance(action, ToxicAddAction):
        return await _toxic_add(action, ctx)
    if isinstance(action, ToxicRemoveAction):
        return await _toxic_remove(action, ctx)
    if isinstance(action, LinkDownAction | LinkUpAction):
        client = _toxiproxy(ctx)
        proxies = await client.resolve(action.link)
        enabled = isinstance(action, LinkUpAction)
        for proxy in proxies:
            await client.set_enabled(proxy, enabled)
        return ActionResult(proxies, f"link {action.link} {'up' if enabled else 'down'}")
    if isinstance(action, BackendFaultAction):
        fault = action.model_dump(exclude={"kind", "target"})
        affected = await _control(ctx).set_fault(action.target, fault)
        return ActionResult(affected, f"fault {fault} on {', '.join(affected)}")
    if isinstance(action, BackendFaultClearAction):
        affected = await _control(ctx).clear_fault(action.target)
        return ActionResult(affected, f"fault cleared on {', '.join(affected)}")
    if isinstance(action, WaitAction):
        await asyncio.sleep(action.seconds)
        return ActionResult([], f"waited {action.seconds:g}s")
    assert isinstance(action, HttpAction)
    return await _http(action, ctx)


async def _toxic_add(action: ToxicAddAction, ctx: DrillContext) -> ActionResult:
    client = _toxiproxy(ctx)
    proxies = await client.resolve(action.link)
    body = {
        "name": action.toxic_name,
        "type": action.type,
        "stream": action.stream,
        "toxicity": action.toxicity,
        "attributes": action.attributes,
    }
    for proxy in proxies:
        try:
            await client.add_toxic(proxy, body)
        except ActionFailed as exc:
            if ": 409 " not in exc.message:
                raise
            await client.remove_toxic(proxy, action.toxic_name)  # left over: replace it
            await client.add_toxic(proxy, body)
    return ActionResult(proxies, f"{action.type} toxic {action.toxic_name} on {action.link}")


async def _toxic_remove(action: ToxicRemoveAction, ctx: DrillContext) -> ActionResult:
    client = _toxiproxy(ctx)
    proxies = await client.resolve(action.link)
    removed = 0
    for proxy in proxies:
        names = (
            [action.name]
            if action.name
            else [str(t.get("name")) for t in await client.toxics(proxy)]
        )
        for name in names:
            removed += await client.remove_toxic(proxy, name)
    return ActionResult(proxies, f"removed {removed} toxic(s) from {action.link}")


async def _rolling_restart(action: RollingRestartAction, ctx: DrillContext) -> ActionResult:
    control = _control(ctx)
    views = await control.processes()
    names = [v.name for v in nodes_of(views, control.resolve(action.target))]
    if not names:
        raise ActionFailed(f"rolling_restart {action.target}: no gateway node matched")
    for index, name in enumerate(names):
        await control.op("restart", name)
        await wait_rejoined(ctx, name)
        if index < len(names) - 1:
            await asyncio.sleep(action.pause_between_s)
    return ActionResult(names, f"restarted {len(names)} nodes one by one")


async def wait_rejoined(ctx: DrillContext, node: str, timeout_s: float = REJOIN_TIMEOUT_S) -> None:
    """Until every GLB the observer watches sees ``node`` healthy (no-op without GLBs)."""
    observer = ctx.observer
    if observer is None or not observer.glb_admin_urls:
        return
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        statuses = [await observer.fetch_status(url) for url in observer.glb_admin_urls]
        if all(s is not None and node_health(s).get(node, ("", False))[1] for s in statuses):
            return
        if loop.time() > deadline:
            raise ActionFailed(f"{node} was not back in the GLB's rotation after {timeout_s:g}s")
        await asyncio.sleep(0.05)


async def _http(action: HttpAction, ctx: DrillContext) -> ActionResult:
    try:
        async with ctx.session.request(
            action.method,
            action.url,
            headers=action.headers,
            data=action.body,
            timeout=aiohttp.ClientTimeout(total=action.timeout_s),
        ) as response:
            await response.read()
            status = response.status
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        raise ActionFailed(f"{action.method} {action.url}: {type(exc).__name__}: {exc}") from None
    if status not in action.expect_status:
        raise ActionFailed(f"{action.method} {action.url} answered {status}")
    return ActionResult([], f"{action.method} {action.url}: {status}")


def fault_targets(
    action: Action, result: ActionResult, views: Sequence[ProcessView]
) -> FaultTargets:
    """What a fault hit, for detection and failover: gateway nodes and whole zones, or etcd."""
    if action.kind in PROCESS_KINDS:
        nodes = [v.name for v in nodes_of(views, result.affected)]
        return FaultTargets(frozenset(nodes), frozenset(whole_zones(views, nodes)))
    if isinstance(action, EtcdKillLeaderAction):
        return FaultTargets(etcd=True, etcd_leader=True)
    if isinstance(action, EtcdStopAction):
        return FaultTargets(etcd=True)
    if isinstance(action, ToxicAddAction | LinkDownAction):
        kind, _, zone = action.link.partition(":")
        zone = zone.split(":", 1)[0]
        if kind == "glb" and zone:
            nodes = [v.name for v in views if v.kind == "node" and v.zone == zone]
            return FaultTargets(frozenset(nodes), frozenset({zone}))
    return FaultTargets()
