"""Team-owned routes: what the platform delegates to a team, and a team's fragment.

The platform config lists ``teams``: each gets path prefixes and/or hosts, and
a name prefix (default ``<team>-``) for its routes and clusters. A team writes
a :class:`TeamFragment` (its own routes and clusters) with ``zonegate routes
apply --team T FILE``; :func:`fragment_problems` refuses every part of a
fragment that reaches outside the team's delegation, naming the conflict.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from zonegate.config.base import Name, StrictModel
from zonegate.config.routes import Route
from zonegate.config.upstream import Cluster

_REGEX_META = set(".^$*+?{}[]\\|()")
Problem = tuple[tuple[str | int, ...], str]


class TeamDelegation(StrictModel):
    """The namespace the platform delegates to one team."""

    name: Name
    description: str = ""
    contact: str = Field(default="", description="how to reach the team (shown in the catalog)")
    path_prefixes: list[str] = Field(default_factory=list, description="e.g. /orders")
    hosts: list[str] = Field(default_factory=list, description="'api.example.com', '*.x.com'")
    name_prefix: str | None = Field(
        default=None, description="route and cluster names must start with it; default '<name>-'"
    )
    max_routes: int = Field(default=100, ge=0, le=10_000)
    max_clusters: int = Field(default=50, ge=0, le=10_000)

    @field_validator("path_prefixes")
    @classmethod
    def _paths(cls, value: list[str]) -> list[str]:
        for prefix in value:
            if not prefix.startswith("/"):
                raise ValueError(f"path prefixes start with '/', got {prefix!r}")
        return value

    @field_validator("hosts")
    @classmethod
    def _hosts(cls, value: list[str]) -> list[str]:
        return [h.lower() for h in value]

    @model_validator(mode="after")
    def _something(self) -> TeamDelegation:
        if not self.path_prefixes and not self.hosts:
            raise ValueError("a team delegation needs path_prefixes or hosts")
        return self

    @property
    def prefix(self) -> str:
        return self.name_prefix if self.name_prefix is not None else f"{self.name}-"


class TeamFragment(StrictModel):
    """A team's routes and clusters (``zonegate routes apply --team T FILE``)."""

    version: Literal[1] = Field(description="fragment format version; currently 1")
    team: Name | None = Field(default=None, description="optional; must match --team")
    description: str = ""
    clusters: list[Cluster] = Field(default_factory=list)
    routes: list[Route] = Field(default_factory=list)


# --- namespace checks ------------------------------------------------------------------------
def path_under(path: str, prefix: str) -> bool:
    """``/orders/1`` is under ``/orders`` (and ``/orders/``); ``/ordersX`` is not."""
    if prefix == "/":
        return True
    base = prefix.rstrip("/")
    return path == base or path.startswith(base + "/")


def host_within(host: str, allowed: str) -> bool:
    """``a.x.com`` and ``*.a.x.com`` are within ``*.x.com``; exact names match themselves."""
    host = host.lower()
    if allowed.startswith("*."):
        suffix = allowed[1:]
        return host.endswith(suffix) and host != suffix[1:]
    return host == allowed


def regex_literal_prefix(regex: str) -> tuple[str, bool]:
    """The literal start of a path regex and whether the regex is nothing but that literal."""
    body = regex.removeprefix("^").removesuffix("$")
    out = []
    i = 0
    while i < len(body):
        char = body[i]
        if char == "\\" and i + 1 < len(body) and body[i + 1] in "/-._~":
            out.append(body[i + 1])
            i += 2
            continue
        if char in _REGEX_META:
            return "".join(out), False
        out.append(char)
        i += 1
    return "".join(out), True


def _path_allowed(route: Route, prefixes: Sequence[str]) -> tuple[bool, str]:
    path = route.match.path
    if path.exact is not None:
        shown = path.exact
        ok = any(path_under(path.exact, p) for p in prefixes)
    elif path.prefix is not None:
        shown = f"{path.prefix} (prefix)"
        ok = any(path_under(path.prefix, p) for p in prefixes)
    else:
        assert path.regex is not None
        shown = f"{path.regex} (regex)"
        literal, whole = regex_literal_prefix(path.regex)
        ok = any(
            (literal.startswith(p.rstrip("/") + "/") or p == "/")
            or (whole and path_under(literal, p))
            for p in prefixes
        )
    return ok, shown


def route_in_delegation(route: Route, team: TeamDelegation) -> str | None:
    """None when the route's match stays inside the delegation, else why not."""
    if team.path_prefixes:
        ok, shown = _path_allowed(route, team.path_prefixes)
        if not ok:
            return (
                f"path {shown} is outside the paths delegated to team {team.name!r} "
                f"({', '.join(team.path_prefixes)})"
            )
    if team.hosts:
        hosts = route.match.hosts
        if not hosts:
            return (
                f"the route matches every host; team {team.name!r} is delegated only "
                f"{', '.join(team.hosts)}: list match.hosts"
            )
        for host in hosts:
            if not any(host_within(host, allowed) for allowed in team.hosts):
                return (
                    f"host {host!r} is outside the hosts delegated to team {team.name!r} "
                    f"({', '.join(team.hosts)})"
                )
    return None


def fragment_problems(
    fragment: TeamFragment,
    team: TeamDelegation,
    *,
    platform_clusters: Collection[str],
    platform_routes: Collection[str],
    foreign_clusters: Mapping[str, str],
) -> list[Problem]:
    """Everything in ``fragment`` that reaches outside ``team``'s delegation.

    ``foreign_clusters`` maps other teams' cluster names to their team.
    """
    problems: list[Problem] = []
    prefix = team.prefix
    if fragment.team is not None and fragment.team != team.name:
        problems.append(
            (("team",), f"the fragment is for team {fragment.team!r}, not {team.name!r}")
        )
    if len(fragment.routes) > team.max_routes:
        problems.append(
            (
                ("routes",),
                f"{len(fragment.routes)} routes; team {team.name!r} may have {team.max_routes}",
            )
        )
    if len(fragment.clusters) > team.max_clusters:
        problems.append(
            (
                ("clusters",),
                f"{len(fragment.clusters)} clusters; team {team.name!r} may have "
                f"{team.max_clusters}",
            )
        )
    own = set()
    for i, cluster in enumerate(fragment.clusters):
        own.add(cluster.name)
        loc: tuple[str | int, ...] = ("clusters", i, "name")
        if not cluster.name.startswith(prefix):
            problems.append(
                (
                    loc,
                    f"cluster {cluster.name!r} is outside team {team.name!r}'s namespace: "
                    f"names start with {prefix!r}",
                )
            )
        elif cluster.name in platform_clusters:
            problems.append(
                (loc, f"cluster {cluster.name!r} already exists in the platform config")
            )
    for i, route in enumerate(fragment.routes):
        if not route.name.startswith(prefix):
            problems.append(
                (
                    ("routes", i, "name"),
                    f"route {route.name!r} is outside team {team.name!r}'s namespace: "
                    f"names start with {prefix!r}",
                )
            )
        elif route.name in platform_routes:
            problems.append(
                (
                    ("routes", i, "name"),
                    f"route {route.name!r} already exists in the platform config",
                )
            )
        if route.team is not None and route.team != team.name:
            problems.append(
                (
                    ("routes", i, "team"),
                    f"a route of team {team.name!r} cannot claim team {route.team!r}",
                )
            )
        outside = route_in_delegation(route, team)
        if outside is not None:
            problems.append((("routes", i, "match"), outside))
        problems += _reference_problems(i, route, own, foreign_clusters)
    return problems


def _reference_problems(
    i: int, route: Route, own: set[str], foreign: Mapping[str, str]
) -> list[Problem]:
    refs: list[tuple[tuple[str | int, ...], str]] = []
    if route.upstream is not None:
        refs.append((("routes", i, "upstream"), route.upstream))
    if route.split is not None:
        refs += [
            (("routes", i, "split", "clusters", j, "cluster"), c.cluster)
            for j, c in enumerate(route.split.clusters)
        ]
    refs += [(("routes", i, "canary", j, "cluster"), r.cluster) for j, r in enumerate(route.canary)]
    if route.mirror is not None:
        refs.append((("routes", i, "mirror", "cluster"), route.mirror.cluster))
    problems: list[Problem] = []
    for loc, name in refs:
        if name not in own and name in foreign:
            problems.append(
                (
                    loc,
                    f"cluster {name!r} belongs to team {foreign[name]!r}; a fragment may use its "
                    "own clusters and the platform's",
                )
            )
    return problems


# --- platform-level checks (for reference_problems) ----------------------------------------------
def _prefixes_overlap(a: str, b: str) -> bool:
    return path_under(a, b) or path_under(b, a)


def _hosts_overlap(a: Sequence[str], b: Sequence[str]) -> bool:
    if not a or not b:
        return True
    return any(host_within(x, y) or host_within(y, x) or x == y for x in a for y in b)


def delegation_problems(data: Mapping[str, Any]) -> list[Problem]:
    """Teams whose delegations overlap (paths with hosts, or name prefixes)."""
    raw = data.get("teams")
    teams: list[tuple[int, TeamDelegation]] = []
    for i, item in enumerate(raw if isinstance(raw, list) else []):
        try:
            teams.append((i, TeamDelegation.model_validate(item)))
        except ValueError:
            continue  # reported by field validation
    problems: list[Problem] = []
    for n, (_, a) in enumerate(teams):
        for j, b in teams[n + 1 :]:
            if a.name == b.name:
                problems.append((("teams", j, "name"), f"duplicate team {b.name!r}"))
                continue
            if a.prefix.startswith(b.prefix) or b.prefix.startswith(a.prefix):
                problems.append(
                    (
                        ("teams", j, "name_prefix"),
                        f"name prefix {b.prefix!r} overlaps team {a.name!r}'s {a.prefix!r}",
                    )
                )
            if not _hosts_overlap(a.hosts, b.hosts):
                continue
            a_paths = a.path_prefixes or ["/"]
            b_paths = b.path_prefixes or ["/"]
            clash = next(
                ((x, y) for x in a_paths for y in b_paths if _prefixes_overlap(x, y)), None
            )
            if clash is not None:
                problems.append(
                    (
                        ("teams", j, "path_prefixes"),
                        f"team {b.name!r}'s paths ({clash[1]}) overlap team {a.name!r}'s "
                        f"({clash[0]}) on the same hosts",
                    )
                )
    return problems
