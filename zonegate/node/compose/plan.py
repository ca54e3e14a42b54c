"""Turn an ``aggregate`` config into an execution plan: calls in dependency order,
compiled templates, and the client inputs the calls need."""

from __future__ import annotations

import re
from dataclasses import dataclass

from zonegate.config.aggregate import Aggregate
from zonegate.node.compose.graph import INPUT_SOURCES, CycleError, topological_order
from zonegate.node.compose.template import PathTemplate

HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
        b"host",
        b"content-length",
        b"content-type",
        b"expect",
        b"accept-encoding",
        b"accept",
    }
)
"""Request headers never copied to composition calls (they are bodiless JSON GETs)."""


class PlanError(ValueError):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True, slots=True)
class PlannedCall:
    name: str
    cluster: str
    template: PathTemplate
    timeout_s: float
    required: bool
    output_key: str | None
    dependencies: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class CompositionPlan:
    calls: tuple[PlannedCall, ...]
    """In dependency order: every call comes after the calls it needs."""
    output_order: tuple[str, ...]
    merge: str
    forward_headers: frozenset[bytes] | None
    path_params: frozenset[str]
    query_params: frozenset[str]

    def call(self, name: str) -> PlannedCall:
        for call in self.calls:
            if call.name == name:
                return call
        raise KeyError(name)


def plan_aggregate(agg: Aggregate, path_regex: str | None = None) -> CompositionPlan:
    """Raises :class:`PlanError` listing every problem (unknown refs, cycles, bad params)."""
    problems: list[str] = []
    groups = set(re.compile(path_regex).groupindex) if path_regex else set()
    names = [c.name for c in agg.calls]
    if len(set(names)) != len(names):
        problems.append("call names must be unique")
    by_name = {c.name: c for c in agg.calls}
    path_params: set[str] = set()
    query_params: set[str] = set()
    dependencies: dict[str, list[str]] = {}
    templates: dict[str, PathTemplate] = {}
    for call in agg.calls:
        try:
            templates[call.name] = template = PathTemplate(call.path)
        except ValueError as exc:
            problems.append(f"call {call.name!r}: {exc}")
            continue
        deps: list[str] = list(call.depends_on)
        for source, fields, _ in template.refs:
            if source in INPUT_SOURCES and len(fields) != 1:
                problems.append(f"call {call.name!r}: {{{source}.{'.'.join(fields)}}} is nested")
            elif source == "path":
                if fields[0] not in groups:
                    problems.append(
                        f"call {call.name!r}: path parameter {fields[0]!r} is not a named group "
                        "of the route's path regex"
                    )
                path_params.add(fields[0])
            elif source == "query":
                query_params.add(fields[0])
            else:
                deps.append(source)
        for dep in deps:
            if dep not in by_name:
                problems.append(f"call {call.name!r} refers to unknown call {dep!r}")
            elif call.required and not by_name[dep].required:
                problems.append(f"required call {call.name!r} depends on optional call {dep!r}")
        dependencies[call.name] = list(dict.fromkeys(d for d in deps if d in by_name))
    if problems:
        raise PlanError(problems)
    try:
        order = topological_order(dependencies)
    except CycleError as exc:
        raise PlanError([str(exc)]) from None
    planned = tuple(
        PlannedCall(
            name=name,
            cluster=by_name[name].cluster,
            template=templates[name],
            timeout_s=by_name[name].timeout_s,
            required=by_name[name].required,
            output_key=(by_name[name].key or name) if by_name[name].include else None,
            dependencies=tuple(dependencies[name]),
        )
        for name in order
    )
    forward = (
        None
        if agg.forward_headers is None
        else frozenset(h.encode("latin-1") for h in agg.forward_headers)
    )
    return CompositionPlan(
        calls=planned,
        output_order=tuple(names),
        merge=agg.merge,
        forward_headers=forward,
        path_params=frozenset(path_params),
        query_params=frozenset(query_params),
    )
