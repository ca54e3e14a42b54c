"""Composition routes: one request fans out to several upstream calls, merged as JSON."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from zonegate.config.base import Name, Seconds, StrictModel
from zonegate.node.compose.graph import (
    INPUT_SOURCES,
    CycleError,
    template_references,
    topological_order,
)


class AggregateCall(StrictModel):
    """One upstream GET; its JSON body lands under ``key`` (default: the call's name)."""

    name: Name
    cluster: Name
    path: str = Field(description="path template, e.g. /users/{path.id}?fields={query.fields}")
    timeout_s: Seconds = 5.0
    required: bool = True
    key: str | None = Field(default=None, description="key in the merged body; default name")
    include: bool = Field(default=True, description="false: only used by later calls")
    depends_on: list[Name] = Field(
        default_factory=list, description="extra ordering; fields used in path count already"
    )

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError(f"call path must start with '/', got {value!r}")
        template_references(value)
        return value

    def dependencies(self) -> list[str]:
        """Calls this one waits for: referenced in its path, or listed in depends_on."""
        deps = [src for src, _ in template_references(self.path) if src not in INPUT_SOURCES]
        return list(dict.fromkeys([*deps, *self.depends_on]))


class Aggregate(StrictModel):
    """A route of kind aggregate: parallel calls (ordered by dependencies), one JSON answer."""

    calls: list[AggregateCall] = Field(min_length=1, max_length=32)
    merge: Literal["keys", "top_level"] = Field(
        default="keys", description="keys: body under each call's key; top_level: merge objects"
    )
    forward_headers: list[str] | None = Field(
        default=None,
        description="request headers passed to every call; default: all but hop-by-hop",
    )

    @field_validator("forward_headers")
    @classmethod
    def _lower(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else [v.lower() for v in value]

    @model_validator(mode="after")
    def _graph(self) -> Aggregate:
        names = [call.name for call in self.calls]
        by_name = {call.name: call for call in self.calls}
        problems: list[str] = []
        if len(by_name) != len(names):
            problems.append("call names must be unique")
        keys = [c.key or c.name for c in self.calls if c.include]
        if len(set(keys)) != len(keys):
            problems.append("output keys must be unique")
        for call in self.calls:
            if call.name in INPUT_SOURCES:
                problems.append(f"call name {call.name!r} is reserved")
            for dep in call.dependencies():
                if dep == call.name:
                    problems.append(f"call {call.name!r} depends on itself")
                elif dep not in by_name:
                    problems.append(f"call {call.name!r} refers to unknown call {dep!r}")
                elif call.required and not by_name[dep].required:
                    problems.append(f"required call {call.name!r} depends on optional call {dep!r}")
        if problems:
            raise ValueError("; ".join(problems))
        try:
            topological_order({c.name: c.dependencies() for c in self.calls})
        except CycleError as exc:
            raise ValueError(str(exc)) from None
        return self
