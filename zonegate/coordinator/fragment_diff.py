"""What applying a fragment would change: routes and clusters added, removed or changed,
with the changed fields (``split.clusters[1].weight: 5 -> 10``)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

from zonegate.config.teams import TeamFragment

ChangeKind = Literal["added", "removed", "changed"]
Section = Literal["route", "cluster", "fragment"]
_SIGN = {"added": "+", "removed": "-", "changed": "~"}


@dataclass(frozen=True)
class Change:
    kind: ChangeKind
    section: Section
    name: str
    fields: list[str] = field(default_factory=list)

    def render(self) -> str:
        head = f"{_SIGN[self.kind]} {self.section} {self.name}"
        return "\n".join([head, *(f"    {f}" for f in self.fields)])


def _short(value: Any) -> str:
    text = json.dumps(value, sort_keys=True)
    return text if len(text) <= 60 else text[:57] + "..."


def field_changes(old: Any, new: Any, path: str = "") -> list[str]:
    """Leaf-level differences between two JSON-like values."""
    if isinstance(old, dict) and isinstance(new, dict):
        out: list[str] = []
        for key in sorted(set(old) | set(new), key=str):
            sub = f"{path}.{key}" if path else str(key)
            if key not in old:
                out.append(f"{sub}: (unset) -> {_short(new[key])}")
            elif key not in new:
                out.append(f"{sub}: {_short(old[key])} -> (unset)")
            else:
                out += field_changes(old[key], new[key], sub)
        return out
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        out = []
        for i, (a, b) in enumerate(zip(old, new, strict=True)):
            out += field_changes(a, b, f"{path}[{i}]")
        return out
    if old != new:
        return [f"{path or '(value)'}: {_short(old)} -> {_short(new)}"]
    return []


def _by_name(items: list[Any]) -> dict[str, dict[str, Any]]:
    return {item.name: item.model_dump(mode="json") for item in items}


def diff_fragments(old: TeamFragment | None, new: TeamFragment) -> list[Change]:
    """Changes from the stored fragment (None: nothing stored yet) to ``new``."""
    changes: list[Change] = []
    if old is not None and old.description != new.description:
        changes.append(
            Change(
                "changed",
                "fragment",
                "description",
                field_changes(old.description, new.description, "description"),
            )
        )
    sections: list[tuple[Section, dict[str, dict[str, Any]], dict[str, dict[str, Any]]]] = [
        ("cluster", _by_name(old.clusters) if old else {}, _by_name(new.clusters)),
        ("route", _by_name(old.routes) if old else {}, _by_name(new.routes)),
    ]
    for section, before, after in sections:
        for name in after:
            if name not in before:
                changes.append(Change("added", section, name))
            else:
                fields = field_changes(before[name], after[name])
                if fields:
                    changes.append(Change("changed", section, name, fields))
        for name in before:
            if name not in after:
                changes.append(Change("removed", section, name))
    return changes
