"""Guards: bounds that abort the method (and roll back) when the drill hurts too much.

A guard trips when its value is beyond the bound for ``for_s`` seconds in a
row; it is checked while the method runs. ``error_budget`` is the guard that
keeps a drill from eating the SLO's whole budget.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from zonegate.chaos.spec.common import Duration, Fraction, PositiveDuration, StrictModel


class ErrorRateGuard(StrictModel):
    """Failed share of the load's requests over the last ``window_s`` seconds."""

    kind: Literal["error_rate"]
    max: Fraction
    window_s: PositiveDuration = 5.0
    min_requests: int = Field(default=20, ge=1, description="windows with fewer never trip")
    for_s: Duration = 0.0


class BurnRateGuard(StrictModel):
    """SLO burn rate over ``window_s`` (from the load, or asked of the SLO engine)."""

    kind: Literal["burn_rate"]
    slo: str = "edge-availability"
    objective: float | None = Field(default=None, gt=0, lt=1)
    max: float = Field(gt=0)
    window_s: PositiveDuration = 10.0
    min_requests: int = Field(default=20, ge=1)
    source: Literal["load", "slo_api"] = "load"
    for_s: Duration = 0.0


class ErrorBudgetGuard(StrictModel):
    """Share of the SLO window's error budget the drill has spent since its method began."""

    kind: Literal["error_budget"]
    slo: str = "edge-availability"
    objective: float | None = Field(default=None, gt=0, lt=1)
    max_consumed: float = Field(gt=0, le=1, description="e.g. 0.02 = 2 % of the budget")
    source: Literal["load", "slo_api"] = "load"
    for_s: Duration = 0.0


class LatencyGuard(StrictModel):
    kind: Literal["latency"]
    percentile: float = Field(default=99.0, gt=0, le=100)
    max_ms: float = Field(gt=0)
    window_s: PositiveDuration = 5.0
    min_requests: int = Field(default=20, ge=1)
    for_s: Duration = 0.0


Guard = Annotated[
    ErrorRateGuard | BurnRateGuard | ErrorBudgetGuard | LatencyGuard,
    Field(discriminator="kind"),
]
