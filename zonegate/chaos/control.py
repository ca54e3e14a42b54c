"""What a drill acts on: the processes of a cluster, behind one small async interface.

:class:`LocalCluster` drives a ``zonegate up`` cluster through its Python API
(:class:`zonegate.cluster.control.ClusterControl`, the same operations as
``zonegate ctl``). Tests can pass their own :class:`DrillControl`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from zonegate.chaos.errors import ActionFailed, TargetError
from zonegate.errors import ZonegateError


@dataclass(frozen=True)
class ProcessView:
    """One process as a drill sees it."""

    name: str
    kind: str  # node, glb, etcd, backend
    zone: str = ""
    service: str = ""
    url: str = ""
    admin: str = ""


class DrillControl(Protocol):
    async def processes(self) -> list[ProcessView]: ...

    def resolve(self, target: str) -> list[str]:
        """Process names ``target`` designates (``zonegate ctl`` rules)."""
        ...

    async def op(self, verb: str, target: str) -> list[str]:
        """A ``zonegate ctl`` verb (kill, pause, drain, restart...): the names affected."""
        ...

    async def etcd_kill_leader(self) -> list[str]: ...

    async def etcd_stop(self, member: str | None) -> list[str]: ...

    async def etcd_start(self, member: str | None) -> list[str]: ...

    async def set_fault(self, target: str, fault: dict[str, Any]) -> list[str]: ...

    async def clear_fault(self, target: str) -> list[str]: ...


def _failed(what: str, exc: ZonegateError) -> ActionFailed:
    return ActionFailed(f"{what}: {exc.message}")


class LocalCluster:
    """A running local cluster (``zonegate up``), found through its run directory."""

    def __init__(self, run_dir: str | Path | None = None) -> None:
        from zonegate.cluster.control import ClusterControl

        try:
            self.control = ClusterControl(run_dir)
        except ZonegateError as exc:
            raise TargetError(exc.message) from None
        self._views: list[ProcessView] = []

    async def processes(self) -> list[ProcessView]:
        try:
            infos = await asyncio.to_thread(self.control.processes)
        except ZonegateError as exc:
            raise TargetError(exc.message) from None
        self._views = [
            ProcessView(
                name=p.name,
                kind=p.kind,
                zone=p.zone,
                service=p.service,
                url=p.url,
                admin=f"http://{p.admin}" if p.admin else "",
            )
            for p in infos
        ]
        return self._views

    def resolve(self, target: str) -> list[str]:
        try:
            return self.control.names(target)
        except ZonegateError as exc:
            raise ActionFailed(exc.message) from None

    async def _call(self, what: str, fn: Any, *args: Any) -> list[str]:
        try:
            result = await asyncio.to_thread(fn, *args)
        except ZonegateError as exc:
            raise _failed(what, exc) from None
        return [str(x) for x in result] if isinstance(result, list) else [str(result)]

    async def op(self, verb: str, target: str) -> list[str]:
        fn = getattr(self.control, verb)
        return await self._call(f"{verb} {target}", fn, target)

    async def etcd_kill_leader(self) -> list[str]:
        return await self._call("etcd kill-leader", self.control.etcd_kill_leader)

    async def etcd_stop(self, member: str | None) -> list[str]:
        return await self._call("etcd stop", self.control.etcd_stop, member)

    async def etcd_start(self, member: str | None) -> list[str]:
        return await self._call("etcd start", self.control.etcd_start, member)

    async def set_fault(self, target: str, fault: dict[str, Any]) -> list[str]:
        def run() -> list[str]:
            return self.control.set_fault(target, **fault)

        return await self._call(f"backend fault on {target}", run)

    async def clear_fault(self, target: str) -> list[str]:
        return await self._call(
            f"clear backend fault on {target}", self.control.clear_fault, target
        )


def nodes_of(views: Sequence[ProcessView], names: Sequence[str]) -> list[ProcessView]:
    chosen = set(names)
    return [v for v in views if v.name in chosen and v.kind == "node"]


def whole_zones(views: Sequence[ProcessView], node_names: Sequence[str]) -> set[str]:
    """Zones every gateway node of which is in ``node_names``."""
    hit = set(node_names)
    zones: dict[str, list[str]] = {}
    for view in views:
        if view.kind == "node" and view.zone:
            zones.setdefault(view.zone, []).append(view.name)
    return {zone for zone, names in zones.items() if names and set(names) <= hit}
