"""Cross-reference checks of the policy parts of a cluster config.

Call :func:`policy_problems` from ``ClusterConfig``'s after-validator; every
problem comes with the path of the offending field.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Protocol

from zonegate.config.aggregate import Aggregate
from zonegate.config.policies import Consumer, NoAuth, Policies, RoutePolicies
from zonegate.node.compose.graph import template_references

Loc = tuple[str | int, ...]
Problem = tuple[Loc, str]


class _Named(Protocol):
    @property
    def name(self) -> str: ...


class _PathMatch(Protocol):
    @property
    def regex(self) -> str | None: ...


class _Match(Protocol):
    @property
    def path(self) -> _PathMatch: ...


class _Route(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def match(self) -> _Match: ...

    @property
    def policies(self) -> RoutePolicies | None: ...

    @property
    def aggregate(self) -> Aggregate | None: ...


class _Config(Protocol):
    @property
    def consumers(self) -> Sequence[Consumer]: ...

    @property
    def policies(self) -> Policies: ...

    @property
    def clusters(self) -> Sequence[_Named]: ...

    @property
    def routes(self) -> Sequence[_Route]: ...


def _consumer_problems(consumers: Sequence[Consumer]) -> list[Problem]:
    problems: list[Problem] = []
    names: set[str] = set()
    key_ids: set[str] = set()
    for i, consumer in enumerate(consumers):
        if consumer.name in names:
            problems.append((("consumers", i, "name"), f"duplicate consumer {consumer.name!r}"))
        names.add(consumer.name)
        for j, key in enumerate(consumer.api_keys):
            if key.id in key_ids:
                problems.append(
                    (("consumers", i, "api_keys", j, "id"), f"duplicate api key id {key.id!r}")
                )
            key_ids.add(key.id)
    return problems


def _aggregate_problems(i: int, route: _Route, clusters: set[str]) -> list[Problem]:
    agg = route.aggregate
    if agg is None:
        return []
    problems: list[Problem] = []
    regex = route.match.path.regex
    groups = set(re.compile(regex).groupindex) if regex else set()
    for j, call in enumerate(agg.calls):
        loc: Loc = ("routes", i, "aggregate", "calls", j)
        if call.cluster not in clusters:
            problems.append(((*loc, "cluster"), f"unknown cluster {call.cluster!r}"))
        for source, fields in template_references(call.path):
            if source == "path" and fields[0] not in groups:
                problems.append(
                    (
                        (*loc, "path"),
                        f"path parameter {fields[0]!r} is not a named group of the route's "
                        "match.path.regex",
                    )
                )
    return problems


def policy_problems(config: _Config) -> list[Problem]:
    """Duplicate consumers / key ids, unknown clusters in calls, authz without auth."""
    problems = _consumer_problems(config.consumers)
    clusters = {c.name for c in config.clusters}
    defaults = config.policies.defaults
    for i, route in enumerate(config.routes):
        problems += _aggregate_problems(i, route, clusters)
        effective = (route.policies or RoutePolicies()).merged_over(defaults)
        if effective.authz is not None and (
            effective.auth is None or isinstance(effective.auth, NoAuth)
        ):
            problems.append(
                (("routes", i, "policies", "authz"), "authorization needs auth on the route")
            )
    return problems
