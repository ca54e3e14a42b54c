"""Experiment parameters: ``--param`` overrides and ``@`` values resolved from the GLB.

``@primary_zone`` is the zone that serves the load's region now (its largest
routing share), ``@secondary_zone`` the next zone of that region's
preference, ``@primary_node`` the first node of the primary zone. They let
one drill file fit any topology.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from zonegate.chaos.errors import ExperimentError

DYNAMIC = ("@primary_zone", "@secondary_zone", "@primary_node")


def parse_overrides(items: list[str]) -> dict[str, str]:
    """``["zone=us-east-1a"]`` -> ``{"zone": "us-east-1a"}``."""
    out: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise ExperimentError([f"--param {item!r}: expected NAME=VALUE"])
        out[name.strip()] = value
    return out


def _region_routing(status: Mapping[str, Any], region: str | None) -> Mapping[str, Any]:
    routing = status.get("routing") or {}
    if region and region in routing:
        return dict(routing[region])
    for info in routing.values():
        return dict(info)
    return {}


def resolve_dynamic(value: str, status: Mapping[str, Any] | None, region: str | None) -> str:
    """The zone/node an ``@`` value stands for, from a GLB ``/status`` document."""
    if value not in DYNAMIC:
        return value
    if not status:
        raise ExperimentError(
            [f"{value} needs a GLB to ask (none reachable); pass --param NAME=VALUE"]
        )
    routing = _region_routing(status, region)
    preference = [str(z) for z in routing.get("preference") or []]
    shares: dict[str, float] = {str(k): float(v) for k, v in (routing.get("shares") or {}).items()}
    if not preference:
        preference = sorted((status.get("zones") or {}).keys())
    if not preference:
        raise ExperimentError([f"{value}: the GLB reports no zones"])
    primary = max(preference, key=lambda z: (shares.get(z, 0.0), -preference.index(z)))
    if value == "@primary_zone":
        return primary
    if value == "@secondary_zone":
        rest = [z for z in preference if z != primary]
        if not rest:
            raise ExperimentError(["@secondary_zone: the region prefers only one zone"])
        return rest[0]
    nodes = (status.get("zones") or {}).get(primary, {}).get("nodes") or []
    ids = sorted(str(n.get("id")) for n in nodes)
    if not ids:
        raise ExperimentError([f"@primary_node: zone {primary} has no node"])
    return ids[0]


def resolve_parameters(
    declared: Mapping[str, str],
    overrides: Mapping[str, str],
    status: Mapping[str, Any] | None,
    region: str | None,
) -> dict[str, str]:
    unknown = sorted(set(overrides) - set(declared))
    if unknown:
        known = ", ".join(sorted(declared)) or "none"
        raise ExperimentError(
            [
                f"--param {name}: the experiment has no such parameter (has: {known})"
                for name in unknown
            ]
        )
    merged = {**declared, **overrides}
    return {name: resolve_dynamic(value, status, region) for name, value in merged.items()}
