"""An experiment, as in Chaos Toolkit but typed: a steady-state hypothesis, a
method of timed steps, rollbacks that always run, load, guards.

Run order: load starts -> warm-up -> hypothesis (before) -> method (guards
watch it) -> observe -> hypothesis (after) -> rollbacks (always: on success,
on a failed action, on a guard trip, on Ctrl-C) -> report.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field, model_validator

from zonegate.chaos.spec.actions import NEUTRAL, Action
from zonegate.chaos.spec.common import Duration, Fraction, StrictModel
from zonegate.chaos.spec.guards import Guard
from zonegate.chaos.spec.load import LoadSpec
from zonegate.chaos.spec.probes import Probe

PARAM_NAME = r"[a-z_][a-z0-9_]*"
PLACEHOLDER = re.compile(r"\$\{(" + PARAM_NAME + r")\}")
#: Values the runner provides; experiments may use them without declaring them.
BUILTIN_VALUES = ("glb", "glb_admin", "slo", "toxiproxy")

Mark = Literal["fault", "recovery", "none"]


class Step(StrictModel):
    """One step of the method: an action or a probe, with its timing."""

    name: str | None = Field(default=None, max_length=120)
    action: Action | None = None
    probe: Probe | None = None
    at_s: Duration | None = Field(
        default=None, description="start this many seconds after the method began"
    )
    pause_before_s: Duration = 0.0
    pause_after_s: Duration = 0.0
    mark: Mark | None = Field(
        default=None, description="fault/recovery marker for the report (default: by kind)"
    )
    tolerate_failure: bool = Field(
        default=False, description="go on with the method if this action fails"
    )

    @model_validator(mode="after")
    def _one_of(self) -> Step:
        if (self.action is None) == (self.probe is None):
            raise ValueError("a step has exactly one of action: or probe:")
        return self

    @property
    def kind(self) -> str:
        inner = self.action if self.action is not None else self.probe
        return str(getattr(inner, "kind", "?"))

    @property
    def label(self) -> str:
        return self.name or self.kind

    @property
    def effective_mark(self) -> str:
        if self.mark is not None:
            return self.mark
        return self.action.mark if self.action is not None else NEUTRAL


class ProbeStep(StrictModel):
    name: str | None = Field(default=None, max_length=120)
    probe: Probe

    @property
    def label(self) -> str:
        return self.name or self.probe.kind


class SteadyState(StrictModel):
    title: str = "the system is healthy"
    probes: list[ProbeStep] = Field(min_length=1)


class ReportSettings(StrictModel):
    """How the report turns the request log into numbers."""

    bin_ms: int = Field(default=100, ge=10, le=5000, description="timeline bin width")
    success_threshold: Fraction = Field(
        default=0.99, description="a bin is healthy when this share of its requests succeeded"
    )
    sustain_bins: int = Field(
        default=3, ge=1, le=100, description="failover/recovery must hold this many bins"
    )
    baseline_s: Duration = Field(default=3.0, description="pre-fault window for traffic shares")
    share_tolerance: Fraction = Field(
        default=0.1, description="recovered when each zone's share is this close to the baseline"
    )
    observe_after_s: Duration = Field(default=2.0, description="keep measuring after the method")
    slo: str = Field(default="edge-availability", description="SLO for error_budget_consumed")
    objective: float | None = Field(default=None, gt=0, lt=1, description="overrides the SLO's")


class Experiment(StrictModel):
    version: Literal[1] = 1
    title: str = Field(min_length=1, max_length=200)
    description: str = ""
    tags: list[str] = Field(default_factory=list)
    parameters: dict[str, str] = Field(
        default_factory=dict,
        description=(
            "values used as ${name} in strings; override with --param name=value. "
            "'@primary_zone', '@secondary_zone' and '@primary_node' are resolved from the GLB"
        ),
    )
    load: LoadSpec = LoadSpec()
    steady_state: SteadyState | None = None
    method: list[Step] = Field(min_length=1)
    rollbacks: list[Step] = Field(default_factory=list)
    guards: list[Guard] = Field(default_factory=list)
    report: ReportSettings = ReportSettings()

    @model_validator(mode="after")
    def _checks(self) -> Experiment:
        for name in self.parameters:
            if not re.fullmatch(PARAM_NAME, name):
                raise ValueError(f"parameter name {name!r}: use lower-case letters, digits and _")
        for index, step in enumerate(self.rollbacks):
            if step.action is None:
                raise ValueError(f"rollbacks[{index}] ({step.label}): rollbacks are actions only")
        return self


def placeholders(value: Any, path: str = "") -> list[tuple[str, str]]:
    """Every ``${name}`` in the strings of ``value`` (a dumped model), with its path."""
    found: list[tuple[str, str]] = []
    if isinstance(value, str):
        found += [(path, m.group(1)) for m in PLACEHOLDER.finditer(value)]
    elif isinstance(value, dict):
        for key, item in value.items():
            found += placeholders(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += placeholders(item, f"{path}[{index}]")
    return found


def substitute(value: Any, values: dict[str, str]) -> Any:
    """``value`` with every ``${name}`` replaced (names not in ``values`` are left as they are)."""
    if isinstance(value, str):
        return PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), value)
    if isinstance(value, dict):
        return {key: substitute(item, values) for key, item in value.items()}
    if isinstance(value, list):
        return [substitute(item, values) for item in value]
    return value
