"""The service catalog: every API of a cluster config, by owning team.

Pure: :func:`build_catalog` takes a (merged) config, live health per cluster and
zone (:mod:`zonegate.node.delivery.catalog_health`), and SLO specs, and lists
for each route its paths and methods, upstream clusters and versions with
their weights, canary rules, mirror, auth and rate-limit policies, health per
zone and the SLOs attached (an SLO attaches to a route when its SLI is scoped
to that route, or to one of the route's clusters).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from zonegate.config.delivery import CanaryRule, route_clusters
from zonegate.config.model import ClusterConfig
from zonegate.config.policies import (
    ApiKeyAuth,
    JwtAuth,
    NoAuth,
    Principals,
    RoutePolicies,
    TokenBucketLimit,
)
from zonegate.config.routes import Route

PLATFORM_TEAM = "platform"
HealthView = Mapping[str, Mapping[str, tuple[int, int]]]
"""cluster -> zone -> (healthy hosts, hosts), as the nodes see them."""


class SLOView(Protocol):
    """What the catalog reads from an SLO spec (zonegate.slo.spec.SLOSpec)."""

    @property
    def name(self) -> str: ...

    @property
    def objective(self) -> float: ...

    @property
    def sli(self) -> Any: ...


@dataclass(frozen=True)
class ZoneHealth:
    zone: str
    healthy: int | None
    total: int


@dataclass(frozen=True)
class CatalogVersion:
    cluster: str
    version: str
    weight: int | None
    share: float | None
    """percent of weighted traffic (None: the route has no split)"""
    zones: list[ZoneHealth]


@dataclass(frozen=True)
class CatalogRoute:
    name: str
    team: str
    description: str
    paths: str
    methods: list[str]
    hosts: list[str]
    versions: list[CatalogVersion]
    sticky: str | None
    canary: list[str]
    mirror: str | None
    auth: str
    authz: str | None
    rate_limits: list[str]
    slos: list[str]
    custom_error_pages: bool
    timeout_s: float
    match: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CatalogTeam:
    name: str
    description: str
    contact: str
    path_prefixes: list[str]
    hosts: list[str]
    routes: list[CatalogRoute]


@dataclass(frozen=True)
class Catalog:
    cluster: str
    revision: int
    generated_at: float
    teams: list[CatalogTeam]
    dropped: dict[str, list[str]] = field(default_factory=dict)
    health_sources: list[str] = field(default_factory=list)
    health_errors: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def team(self, name: str) -> CatalogTeam | None:
        return next((t for t in self.teams if t.name == name), None)


def describe_paths(route: Route) -> str:
    path = route.match.path
    if path.exact is not None:
        return path.exact
    if path.prefix is not None:
        return path.prefix if path.prefix.endswith("*") else f"{path.prefix.rstrip('/')}/*"
    return f"~{path.regex}"


def _canary_text(rule: CanaryRule) -> str:
    conditions = []
    if rule.header is not None:
        test = f"={rule.header.exact}" if rule.header.exact else ""
        test = f"~{rule.header.regex}" if rule.header.regex else test
        conditions.append(f"header {rule.header.name}{test}")
    if rule.cookie is not None:
        test = f"={rule.cookie.exact}" if rule.cookie.exact else ""
        conditions.append(f"cookie {rule.cookie.name}{test}")
    if rule.consumers:
        conditions.append("consumer in " + ",".join(rule.consumers))
    if rule.consumer_groups:
        conditions.append("group in " + ",".join(rule.consumer_groups))
    return f"{rule.name}: {' and '.join(conditions)} -> {rule.cluster}"


def _policies(config: ClusterConfig, route: Route) -> RoutePolicies:
    """The route's effective policies (when the config carries policies at all)."""
    own = getattr(route, "policies", None)
    top = getattr(config, "policies", None)
    defaults = getattr(top, "defaults", None)
    own = own if isinstance(own, RoutePolicies) else RoutePolicies()
    return own.merged_over(defaults) if isinstance(defaults, RoutePolicies) else own


def _auth_text(policies: RoutePolicies) -> str:
    auth = policies.auth
    if isinstance(auth, ApiKeyAuth):
        return f"api_key (header {auth.header})"
    if isinstance(auth, JwtAuth):
        issuer = f", issuer {auth.issuer}" if auth.issuer else ""
        return f"jwt ({'/'.join(auth.algorithms)}{issuer})"
    if isinstance(auth, NoAuth) or auth is None:
        return "none"
    return str(getattr(auth, "type", "?"))


def _authz_text(policies: RoutePolicies) -> str | None:
    authz = policies.authz
    if authz is None:
        return None
    parts = []
    if authz.allow is not None:
        parts.append("allow " + _principals(authz.allow))
    if not authz.deny.empty():
        parts.append("deny " + _principals(authz.deny))
    return "; ".join(parts) or "any authenticated consumer"


def _principals(principals: Principals) -> str:
    return ", ".join(
        [
            *principals.consumers,
            *(f"group:{g}" for g in principals.groups),
            *(f"scope:{s}" for s in principals.scopes),
        ]
    )


def _limits_text(policies: RoutePolicies) -> list[str]:
    out = []
    for limit in policies.rate_limits or ():
        period = limit.per_s if isinstance(limit, TokenBucketLimit) else limit.window_s
        mode = "" if limit.enforce else ", shadow"
        out.append(
            f"{limit.name}: {limit.requests}/{period:g}s per {'+'.join(limit.key)} "
            f"({limit.algorithm}, {limit.scope}{mode})"
        )
    return out


def _zones(cluster: str, config: ClusterConfig, health: HealthView | None) -> list[ZoneHealth]:
    if health is not None and cluster in health:
        return [ZoneHealth(z, h, t) for z, (h, t) in sorted(health[cluster].items())]
    try:
        cfg = config.cluster_by_name(cluster)
    except KeyError:
        return []
    counts: dict[str, int] = {}
    for endpoint in cfg.endpoints:
        counts[endpoint.zone] = counts.get(endpoint.zone, 0) + 1
    return [ZoneHealth(z, None, n) for z, n in sorted(counts.items())]


def _versions(
    route: Route, config: ClusterConfig, health: HealthView | None
) -> list[CatalogVersion]:
    split = route.split
    labels = {c.cluster: c for c in split.clusters} if split is not None else {}
    total = split.total() if split is not None else 0
    out = []
    for name in route_clusters(route):
        weighted = labels.get(name)
        weight = weighted.weight if weighted is not None else None
        out.append(
            CatalogVersion(
                cluster=name,
                version=weighted.version if weighted is not None and weighted.version else name,
                weight=weight,
                share=round(100.0 * weight / total, 2) if weight is not None and total else None,
                zones=_zones(name, config, health),
            )
        )
    if route.mirror is not None:
        shadow = route.mirror.cluster
        out.append(CatalogVersion(shadow, "shadow", None, None, _zones(shadow, config, health)))
    return out


def _slos(route: Route, slos: Sequence[SLOView]) -> list[str]:
    clusters = set(route_clusters(route))
    out = []
    for spec in slos:
        sli = spec.sli
        if getattr(sli, "route", None) == route.name or getattr(sli, "cluster", None) in clusters:
            out.append(f"{spec.name} ({spec.objective * 100:g}%)")
    return out


def catalog_route(
    route: Route, config: ClusterConfig, health: HealthView | None, slos: Sequence[SLOView]
) -> CatalogRoute:
    policies = _policies(config, route)
    split = route.split
    sticky = None
    if split is not None and split.sticky is not None:
        how = split.sticky
        sticky = f"header {how.header}" if how.header else f"cookie {how.cookie}"
    return CatalogRoute(
        name=route.name,
        team=route.team or PLATFORM_TEAM,
        description=route.description,
        paths=describe_paths(route),
        methods=list(route.match.methods),
        hosts=list(route.match.hosts),
        versions=_versions(route, config, health),
        sticky=sticky,
        canary=[_canary_text(rule) for rule in route.canary],
        mirror=(f"{route.mirror.percent:g}% to {route.mirror.cluster}" if route.mirror else None),
        auth=_auth_text(policies),
        authz=_authz_text(policies),
        rate_limits=_limits_text(policies),
        slos=_slos(route, slos),
        custom_error_pages=route.error_pages is not None or config.error_pages is not None,
        timeout_s=route.timeout_s,
        match=route.match.model_dump(mode="json", exclude_defaults=True),
    )


def build_catalog(
    config: ClusterConfig,
    *,
    revision: int = 0,
    health: HealthView | None = None,
    slos: Sequence[SLOView] = (),
    dropped: Mapping[str, list[str]] | None = None,
    health_sources: Sequence[str] = (),
    health_errors: Sequence[str] = (),
    clock: Callable[[], float] = time.time,
) -> Catalog:
    """The catalog of ``config``: delegated teams first (in config order), then the platform."""
    delegations = {t.name: t for t in config.teams}
    by_team: dict[str, list[CatalogRoute]] = {}
    for route in config.routes:
        entry = catalog_route(route, config, health, slos)
        by_team.setdefault(entry.team, []).append(entry)
    names = [t.name for t in config.teams]
    names += sorted(t for t in by_team if t not in delegations and t != PLATFORM_TEAM)
    if PLATFORM_TEAM in by_team and PLATFORM_TEAM not in names:
        names.append(PLATFORM_TEAM)
    teams = []
    for name in names:
        delegation = delegations.get(name)
        teams.append(
            CatalogTeam(
                name=name,
                description=delegation.description if delegation else "",
                contact=delegation.contact if delegation else "",
                path_prefixes=list(delegation.path_prefixes) if delegation else [],
                hosts=list(delegation.hosts) if delegation else [],
                routes=by_team.get(name, []),
            )
        )
    return Catalog(
        cluster=config.cluster,
        revision=revision,
        generated_at=clock(),
        teams=teams,
        dropped=dict(dropped or {}),
        health_sources=list(health_sources),
        health_errors=list(health_errors),
    )
