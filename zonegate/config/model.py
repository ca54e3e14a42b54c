"""The whole cluster configuration, as one validated, immutable document."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field, model_validator

from zonegate.config.base import Name, StrictModel
from zonegate.config.delivery import ErrorPages, delivery_problems
from zonegate.config.glb import GlbSettings, Region, Zone
from zonegate.config.node import NodeSettings
from zonegate.config.policies import Consumer, Policies
from zonegate.config.policy_checks import policy_problems
from zonegate.config.routes import Route
from zonegate.config.teams import TeamDelegation, delegation_problems
from zonegate.config.upstream import Cluster
from zonegate.slo.spec import Notifications, SLOSpec

CONFIG_VERSION = 1


def did_you_mean(name: str, known: list[str]) -> str:
    close = difflib.get_close_matches(name, known, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


class CrossReferenceError(ValueError):
    """A reference to a name that does not exist; carries the path of the offending field."""

    def __init__(self, loc: tuple[str | int, ...], message: str):
        super().__init__(message)
        self.loc = loc
        self.message = message


class ClusterConfig(StrictModel):
    """A zonegate cluster: upstream clusters, routes and node defaults."""

    version: Literal[1] = Field(description="config format version; currently 1")
    cluster: Name = Field(default="zonegate", description="cluster name (etcd key prefix)")
    node: NodeSettings = NodeSettings()
    clusters: list[Cluster] = Field(default_factory=list)
    routes: list[Route] = Field(default_factory=list)
    zones: list[Zone] = Field(default_factory=list, description="zones of the cluster")
    regions: list[Region] = Field(default_factory=list, description="client regions")
    glb: GlbSettings = GlbSettings()
    error_pages: ErrorPages | None = Field(
        default=None, description="bodies of gateway errors for every route"
    )
    teams: list[TeamDelegation] = Field(
        default_factory=list, description="namespaces delegated to teams (route fragments)"
    )
    consumers: list[Consumer] = Field(
        default_factory=list, description="API consumers and their credentials (hashed)"
    )
    policies: Policies = Field(default_factory=Policies, description="policy defaults")
    slos: list[SLOSpec] = Field(
        default_factory=list, description="SLOs (also accepted in separate SLO files)"
    )
    notifications: Notifications | None = Field(
        default=None, description="where SLO alerts go (webhooks, Alertmanager)"
    )

    @model_validator(mode="after")
    def _references(self) -> ClusterConfig:
        problems = reference_problems(self.model_dump())
        problems += [CrossReferenceError(loc, msg) for loc, msg in policy_problems(self)]
        if problems:
            raise CrossReferenceErrors(problems)
        return self

    def zone_preference(self, region: str) -> list[str]:
        """Zones for clients of ``region``, most preferred first (every zone appears)."""
        all_zones = [z.name for z in self.zones]
        spec = next((r for r in self.regions if r.name == region), None)
        if spec is None:
            return all_zones
        if spec.zones:
            ordered = list(spec.zones)
        else:
            home = [z.name for z in self.zones if z.region == region]
            ordered = sorted(
                all_zones,
                key=lambda z: (
                    spec.latency_ms.get(z, float("inf")),
                    z not in home,
                    all_zones.index(z),
                ),
            )
        return ordered + [z for z in all_zones if z not in ordered]

    def cluster_by_name(self, name: str) -> Cluster:
        for cluster in self.clusters:
            if cluster.name == name:
                return cluster
        raise KeyError(name)


class CrossReferenceErrors(ValueError):
    def __init__(self, problems: list[CrossReferenceError]):
        super().__init__("; ".join(p.message for p in problems))
        self.problems = problems


def _names(items: object, key: str = "name") -> list[str]:
    if not isinstance(items, list):
        return []
    return [str(item.get(key)) for item in items if isinstance(item, dict) and item.get(key)]


def reference_problems(data: Mapping[str, Any]) -> list[CrossReferenceError]:
    """Names that point nowhere. Works on plain (even invalid) documents, so a file
    with field errors still gets its broken references reported in the same run."""
    problems: list[CrossReferenceError] = []
    cluster_names = _names(data.get("clusters"))
    problems += _duplicates("clusters", cluster_names)
    problems += _duplicates("routes", _names(data.get("routes")))
    zone_names = _names(data.get("zones"))
    region_names = _names(data.get("regions"))
    problems += _duplicates("zones", zone_names)
    problems += _duplicates("regions", region_names)
    regions = data.get("regions")
    for i, region in enumerate(regions if isinstance(regions, list) else []):
        if not isinstance(region, dict):
            continue
        for j, zone in enumerate(region.get("zones") or []):
            if isinstance(zone, str) and zone not in zone_names:
                problems.append(
                    CrossReferenceError(
                        ("regions", i, "zones", j),
                        f"unknown zone {zone!r}{did_you_mean(zone, zone_names)}",
                    )
                )
        for zone in region.get("latency_ms") or {}:
            if isinstance(zone, str) and zone not in zone_names:
                problems.append(
                    CrossReferenceError(
                        ("regions", i, "latency_ms", zone),
                        f"unknown zone {zone!r}{did_you_mean(zone, zone_names)}",
                    )
                )
    glb = data.get("glb")
    default_region = glb.get("default_region") if isinstance(glb, dict) else None
    if isinstance(default_region, str) and default_region not in region_names:
        problems.append(
            CrossReferenceError(
                ("glb", "default_region"),
                f"unknown region {default_region!r}{did_you_mean(default_region, region_names)}",
            )
        )
    routes = data.get("routes")
    for i, route in enumerate(routes if isinstance(routes, list) else []):
        upstream = route.get("upstream") if isinstance(route, dict) else None
        if isinstance(upstream, str) and upstream not in cluster_names:
            problems.append(
                CrossReferenceError(
                    ("routes", i, "upstream"),
                    f"unknown cluster {upstream!r}{did_you_mean(upstream, cluster_names)}",
                )
            )
    problems += [CrossReferenceError(loc, msg) for loc, msg in delivery_problems(data)]
    problems += [CrossReferenceError(loc, msg) for loc, msg in delegation_problems(data)]
    return problems


def _duplicates(section: str, names: list[str]) -> list[CrossReferenceError]:
    seen: set[str] = set()
    out: list[CrossReferenceError] = []
    for i, name in enumerate(names):
        if name in seen:
            out.append(CrossReferenceError((section, i, "name"), f"duplicate name {name!r}"))
        seen.add(name)
    return out
