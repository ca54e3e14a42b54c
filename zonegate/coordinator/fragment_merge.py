"""Merge the platform config and the teams' route fragments into one cluster config.

Pure (no etcd): :func:`merge` is what nodes run on every change and what
``zonegate routes apply|diff`` runs before writing. Team routes go first (in
team order) so a platform catch-all never shadows them; they stay inside
their delegated paths/hosts, so teams cannot shadow each other. Team clusters
follow the platform's. Every route of a fragment gets ``team: <name>``.

A fragment that is invalid, reaches outside its delegation, or breaks the
merged config is dropped alone, with its problems; every other team's routes
keep working. If fragments that are fine alone conflict together, the most
recently written one is dropped.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from zonegate.config.loader import parse_config, problems_of
from zonegate.config.model import ClusterConfig, did_you_mean
from zonegate.config.teams import TeamDelegation, TeamFragment, fragment_problems
from zonegate.errors import ConfigError

_LOC = re.compile(r"^(routes|clusters)\[(\d+)\](.*)$")


@dataclass(frozen=True, slots=True)
class FragmentInput:
    """One team's fragment as stored (or as read from a file)."""

    team: str
    document: Any
    revision: int = 0
    source: str = ""

    @property
    def where(self) -> str:
        return self.source or f"fragment of team {self.team!r}"


@dataclass(frozen=True)
class MergeResult:
    """The merged config, the teams in it, and the fragments dropped (with why)."""

    config: ClusterConfig
    document: dict[str, Any]
    teams: tuple[str, ...]
    dropped: dict[str, list[str]] = field(default_factory=dict)


def parse_fragment(fragment: FragmentInput) -> TeamFragment:
    """Validate a fragment document; ConfigError lists each problem with its path."""
    if not isinstance(fragment.document, dict):
        raise ConfigError([f"{fragment.where}: expected a mapping"])
    try:
        return TeamFragment.model_validate(fragment.document)
    except ValidationError as exc:
        raise ConfigError([f"{fragment.where}: {p}" for p in problems_of(exc)]) from None


def merge_documents(
    platform: Mapping[str, Any], fragments: Mapping[str, TeamFragment]
) -> dict[str, Any]:
    """The merged config document (team routes first, team clusters last)."""
    document = dict(platform)
    team_routes: list[dict[str, Any]] = []
    team_clusters: list[dict[str, Any]] = []
    for team in sorted(fragments):
        fragment = fragments[team]
        for route in fragment.routes:
            team_routes.append({**route.model_dump(mode="json"), "team": team})
        team_clusters += [c.model_dump(mode="json") for c in fragment.clusters]
    document["routes"] = team_routes + list(platform.get("routes") or [])
    document["clusters"] = list(platform.get("clusters") or []) + team_clusters
    return document


def _remap(problem: str, fragment: TeamFragment, platform_clusters: int, where: str) -> str:
    """A merged-document problem path, told in the fragment's (or the platform's) terms."""
    found = _LOC.match(problem)
    if found is None:
        return f"{where}: {problem}"
    section, index, rest = found.group(1), int(found.group(2)), found.group(3)
    if section == "routes":
        if index < len(fragment.routes):
            return f"{where}: routes[{index}]{rest}"
        return f"platform config: routes[{index - len(fragment.routes)}]{rest}"
    if index < platform_clusters:
        return f"platform config: clusters[{index}]{rest}"
    return f"{where}: clusters[{index - platform_clusters}]{rest}"


def _format(where: str, loc: tuple[str | int, ...], message: str) -> str:
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return f"{where}: {path}: {message}"


def fragment_issues(
    platform_document: Mapping[str, Any],
    platform: ClusterConfig,
    fragment: FragmentInput,
    parsed: TeamFragment,
    others: Mapping[str, TeamFragment],
) -> list[str]:
    """Why ``fragment`` cannot join the platform config on its own (empty: it can)."""
    delegations = {t.name: t for t in platform.teams}
    team: TeamDelegation | None = delegations.get(fragment.team)
    if team is None:
        known = sorted(delegations)
        listed = ", ".join(known) or "none"
        return [
            f"{fragment.where}: team {fragment.team!r} has no delegation in the platform "
            f"config{did_you_mean(fragment.team, known)} (delegated teams: {listed})"
        ]
    foreign = {c.name: t for t, other in others.items() for c in other.clusters}
    problems = [
        _format(fragment.where, loc, message)
        for loc, message in fragment_problems(
            parsed,
            team,
            platform_clusters={c.name for c in platform.clusters},
            platform_routes={r.name for r in platform.routes},
            foreign_clusters=foreign,
        )
    ]
    if problems:
        return problems
    try:
        parse_config(merge_documents(platform_document, {fragment.team: parsed}))
    except ConfigError as exc:
        count = len(platform.clusters)
        return [_remap(p, parsed, count, fragment.where) for p in exc.problems]
    return []


def merge(platform_document: Mapping[str, Any], fragments: Sequence[FragmentInput]) -> MergeResult:
    """Merge every good fragment into the platform config; raises ConfigError only when
    the platform config itself is invalid."""
    platform = parse_config(dict(platform_document))
    dropped: dict[str, list[str]] = {}
    parsed: dict[str, TeamFragment] = {}
    revisions: dict[str, int] = {}
    for item in sorted(fragments, key=lambda f: f.team):
        revisions[item.team] = item.revision
        try:
            parsed[item.team] = parse_fragment(item)
        except ConfigError as exc:
            dropped[item.team] = exc.problems
    good: dict[str, TeamFragment] = {}
    by_team = {f.team: f for f in fragments}
    for team, fragment in parsed.items():
        others = {t: f for t, f in parsed.items() if t != team}
        issues = fragment_issues(platform_document, platform, by_team[team], fragment, others)
        if issues:
            dropped[team] = issues
        else:
            good[team] = fragment
    while True:
        document = merge_documents(platform_document, good)
        try:
            config = parse_config(document)
        except ConfigError as exc:
            newest = max(good, key=lambda t: (revisions[t], t))
            dropped[newest] = [
                f"{by_team[newest].where}: conflicts with other teams' fragments: {p}"
                for p in exc.problems
            ]
            del good[newest]
            continue
        return MergeResult(config, document, tuple(sorted(good)), dropped)
