"""Resolving ``zonegate ctl`` targets: a process, a zone, a kind, a service, or ``ZONE/KIND``."""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass

from zonegate.cluster.errors import UnknownTargetError

KIND_ALIASES = {
    "etcd": "etcd",
    "backend": "backend",
    "backends": "backend",
    "node": "node",
    "nodes": "node",
    "glb": "glb",
    "glbs": "glb",
    "dashboard": "dashboard",
}


@dataclass(frozen=True)
class Member:
    name: str
    kind: str
    zone: str
    service: str = ""


def _matches(member: Member, selector: str) -> bool:
    kind = KIND_ALIASES.get(selector)
    return (kind is not None and member.kind == kind) or (
        bool(member.service) and member.service == selector
    )


def resolve(members: Sequence[Member], target: str) -> list[str]:
    """Names of the processes ``target`` designates, in the order given.

    ``all``; a process name (``eu-west-1a-1``, ``etcd-us-east-1a``); a zone (every
    process of it: nodes, backends, its etcd member); a kind (``nodes``,
    ``backends``, ``etcd``, ``glb``) or a demo service (``orders``); or
    ``ZONE/KIND`` / ``ZONE/SERVICE`` (``us-east-1a/nodes``).
    """
    target = target.strip()
    if target == "all":
        return [m.name for m in members]
    by_name = [m.name for m in members if m.name == target]
    if by_name:
        return by_name
    zones = list(dict.fromkeys(m.zone for m in members if m.zone))
    zone, sep, selector = target.partition("/")
    if sep:
        if zone not in zones:
            raise UnknownTargetError(_unknown(f"zone {zone!r}", zone, zones))
        found = [m.name for m in members if m.zone == zone and _matches(m, selector)]
        if not found:
            raise UnknownTargetError(
                f"zone {zone} has no {selector!r}: use nodes, backends, etcd or a service name"
            )
        return found
    if target in zones:
        return [m.name for m in members if m.zone == target]
    found = [m.name for m in members if _matches(m, target)]
    if found:
        return found
    known = [m.name for m in members] + zones + sorted(set(KIND_ALIASES))
    raise UnknownTargetError(_unknown(f"target {target!r}", target, known))


def _unknown(what: str, value: str, known: Sequence[str]) -> str:
    close = difflib.get_close_matches(value, list(known), n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"unknown {what}{hint}; see `zonegate ctl ps` for the names"
