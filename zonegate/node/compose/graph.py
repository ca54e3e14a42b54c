"""Pure helpers of composition: placeholders in path templates and call ordering.

Templates look like ``/users/{path.id}/orders?limit={query.limit}`` or
``/orgs/{user.org.id}``: the first segment names the source (``path`` params of
the route's regex, the request's ``query``, or an earlier call by name), the
rest is a field path into it (list indexes are numbers).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping

PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_SEGMENT = re.compile(r"^[A-Za-z0-9_-]+$")
INPUT_SOURCES = frozenset({"path", "query"})


class CycleError(ValueError):
    """Calls that depend on each other in a circle."""

    def __init__(self, cycle: list[str]) -> None:
        super().__init__("calls depend on each other in a cycle: " + " -> ".join(cycle))
        self.cycle = cycle


def template_references(template: str) -> list[tuple[str, tuple[str, ...]]]:
    """``(source, field path)`` of every placeholder; raises ValueError on bad syntax."""
    refs: list[tuple[str, tuple[str, ...]]] = []
    for inner in PLACEHOLDER.findall(template):
        parts = inner.split(".")
        if len(parts) < 2 or not all(_SEGMENT.match(p) for p in parts):
            raise ValueError(
                f"placeholder {{{inner}}} must be source.field (path.x, query.x or call.field)"
            )
        refs.append((parts[0], tuple(parts[1:])))
    stripped = PLACEHOLDER.sub("", template)
    if "{" in stripped or "}" in stripped:
        raise ValueError(f"unbalanced braces in template {template!r}")
    return refs


def topological_order(dependencies: Mapping[str, Collection[str]]) -> list[str]:
    """Names so that each comes after everything it depends on (input order kept otherwise).

    Raises :class:`CycleError` naming one cycle, or KeyError for an unknown dependency.
    """
    order: list[str] = []
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    path: list[str] = []

    def visit(name: str) -> None:
        mark = state.get(name)
        if mark == 2:
            return
        if mark == 1:
            start = path.index(name)
            raise CycleError([*path[start:], name])
        state[name] = 1
        path.append(name)
        for dep in dependencies[name]:
            visit(dep)
        path.pop()
        state[name] = 2
        order.append(name)

    for name in dependencies:
        visit(name)
    return order
