"""Probes: questions with tolerances (steady-state hypothesis and method checks).

A probe passes when its measured value is within its tolerance; the report
keeps the value either way.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from zonegate.chaos.spec.common import Fraction, PositiveDuration, StrictModel, Url


class Range(StrictModel):
    """``min <= value <= max`` (either bound may be omitted, not both)."""

    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _bounded(self) -> Range:
        if self.min is None and self.max is None:
            raise ValueError("give min, max or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min}) is above max ({self.max})")
        return self

    def contains(self, value: float) -> bool:
        return (self.min is None or value >= self.min) and (self.max is None or value <= self.max)

    def describe(self) -> str:
        if self.min is not None and self.max is not None:
            return f"{self.min:g}..{self.max:g}"
        return f">= {self.min:g}" if self.min is not None else f"<= {self.max:g}"


class HttpProbe(StrictModel):
    """Send ``count`` requests; pass when at least ``min_success_ratio`` answer as expected."""

    kind: Literal["http"]
    url: Url = "${glb}/"
    method: Literal["GET", "HEAD", "POST", "PUT", "DELETE"] = "GET"
    headers: dict[str, str] = Field(default_factory=dict)
    body: str | None = None
    expect_status: list[int] = Field(default_factory=lambda: [200], min_length=1)
    body_contains: str | None = None
    count: int = Field(default=1, ge=1, le=1000)
    min_success_ratio: Fraction = 1.0
    timeout_s: PositiveDuration = 2.0


class MetricProbe(StrictModel):
    """One metric from a Prometheus ``/metrics`` page (a node's or the GLB's admin)."""

    kind: Literal["metric"]
    url: Url = "${glb_admin}/metrics"
    name: str = Field(pattern=r"^[a-zA-Z_:][a-zA-Z0-9_:]*$", description="sample name")
    labels: dict[str, str] = Field(default_factory=dict, description="samples must match these")
    aggregate: Literal["sum", "max", "min", "avg", "count"] = "sum"
    tolerance: Range
    timeout_s: PositiveDuration = 2.0


class ErrorRateProbe(StrictModel):
    """Failed share of the load's requests over the last ``window_s`` seconds."""

    kind: Literal["error_rate"]
    window_s: PositiveDuration = 3.0
    max: Fraction = 0.01
    min_requests: int = Field(default=10, ge=1, description="fewer requests fail the probe")


class LatencyProbe(StrictModel):
    """A latency percentile of the load's requests over the last ``window_s`` seconds."""

    kind: Literal["latency"]
    window_s: PositiveDuration = 3.0
    percentile: float = Field(default=99.0, gt=0, le=100)
    max_ms: float = Field(gt=0)
    min_requests: int = Field(default=10, ge=1)


class BurnRateProbe(StrictModel):
    """Error-budget burn rate of an SLO over ``window_s`` (1.0 = exactly on budget).

    ``source: load`` computes it from the drill's own requests with the SLO's
    objective; ``source: slo_api`` asks a running SLO engine (``${slo}``).
    """

    kind: Literal["burn_rate"]
    slo: str = "edge-availability"
    objective: float | None = Field(default=None, gt=0, lt=1, description="overrides the SLO's")
    window_s: PositiveDuration = 60.0
    max: float = Field(ge=0)
    source: Literal["load", "slo_api"] = "load"
    slo_url: Url | None = Field(default=None, description="default: the drill's --slo-url")


class TrafficShareProbe(StrictModel):
    """Share of the load's successful requests a zone served over the last ``window_s``."""

    kind: Literal["traffic_share"]
    zone: str = Field(min_length=1)
    window_s: PositiveDuration = 1.0
    tolerance: Range
    min_requests: int = Field(default=10, ge=1)


class ClusterHealthyProbe(StrictModel):
    """From the GLB's ``/status``: the share of healthy nodes (of one zone, or all)."""

    kind: Literal["cluster_healthy"]
    zone: str | None = None
    min_healthy_ratio: Fraction = 1.0
    url: Url = "${glb_admin}/status"


Probe = Annotated[
    HttpProbe
    | MetricProbe
    | ErrorRateProbe
    | LatencyProbe
    | BurnRateProbe
    | TrafficShareProbe
    | ClusterHealthyProbe,
    Field(discriminator="kind"),
]
