"""SLO specs: what an operator writes (YAML), validated once, immutable afterwards.

An SLO names a service, an SLI (availability or latency, scoped to a route,
cluster or zone of the nodes, or to the whole edge as the GLB saw it), an
objective (a ratio: 0.999 is 99.9 %), a rolling window and its alerting.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from zonegate import conventions as cv
from zonegate.config.base import Name, StrictModel
from zonegate.slo.durations import parse_duration
from zonegate.slo.windows import AlertWindow, default_windows

SPEC_VERSION = 1
StatusClass = Literal["1xx", "2xx", "3xx", "4xx", "5xx"]
Source = Literal["node", "edge"]
_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
RESERVED_LABEL_PREFIX = "slo_"


class SLIBase(StrictModel):
    """Where the events come from: the nodes (per route / cluster / zone) or the edge."""

    source: Source = Field(
        default="node",
        description="node: the gateway nodes' metrics; edge: the GLB's (what users saw)",
    )
    route: str | None = Field(default=None, description="only this route (node source)")
    cluster: str | None = Field(default=None, description="only this upstream cluster (node)")
    zone: str | None = Field(default=None, description="only this zone")
    region: str | None = Field(default=None, description="only this client region (edge)")

    @model_validator(mode="after")
    def _scope_fits_source(self) -> SLIBase:
        if self.source == "edge":
            for key in ("route", "cluster"):
                if getattr(self, key) is not None:
                    raise ValueError(
                        f"{key} scope is not available on edge metrics (their labels are "
                        "zone, region, status_class); use source: node"
                    )
        elif self.region is not None:
            raise ValueError("region scope needs source: edge (node metrics have no region)")
        return self

    def scope_labels(self) -> dict[str, str]:
        """Exact-match labels that select this SLI's series."""
        names = {
            "route": cv.LABEL_ROUTE,
            "cluster": cv.LABEL_CLUSTER,
            "zone": cv.LABEL_ZONE,
            "region": cv.LABEL_REGION,
        }
        return {
            label: value
            for key, label in names.items()
            if (value := getattr(self, key)) is not None
        }


def _default_bad() -> list[StatusClass]:
    return ["5xx"]


class AvailabilitySLI(SLIBase):
    """Good = requests whose status class is not in ``bad_status_classes``."""

    kind: Literal["availability"]
    bad_status_classes: list[StatusClass] = Field(
        default_factory=_default_bad, min_length=1, description="what counts as an error"
    )


class LatencySLI(SLIBase):
    """Good = requests faster than ``threshold`` seconds (a bucket bound of the histogram)."""

    kind: Literal["latency"]
    threshold: float = Field(
        gt=0,
        description="seconds; one of the duration histograms' bucket bounds "
        f"{', '.join(f'{b:g}' for b in cv.DURATION_BUCKETS)}",
    )

    @field_validator("threshold")
    @classmethod
    def _a_bucket_bound(cls, value: float) -> float:
        if not any(abs(value - bound) < 1e-9 for bound in cv.DURATION_BUCKETS):
            bounds = ", ".join(f"{b:g}" for b in cv.DURATION_BUCKETS)
            raise ValueError(
                f"threshold {value:g}s is not a bucket bound of the request duration "
                f"histograms, so it cannot be counted exactly; use one of {bounds}"
            )
        return value


SLI = Annotated[AvailabilitySLI | LatencySLI, Field(discriminator="kind")]


class Alerting(StrictModel):
    """Multi-window multi-burn-rate alerting; the window table is replaceable."""

    enabled: bool = True
    windows: list[AlertWindow] = Field(
        default_factory=lambda: list(default_windows()),
        min_length=1,
        description="alert window table; defaults to the SRE workbook's",
    )
    min_events: int = Field(
        default=10,
        ge=0,
        description="a window with fewer events than this never alerts ('not enough data')",
    )
    keep_resolved: str = Field(
        default="15m", description="how long a resolved alert is shown before it goes inactive"
    )
    labels: dict[str, str] = Field(default_factory=dict, description="added to every alert")
    annotations: dict[str, str] = Field(default_factory=dict)

    @field_validator("keep_resolved")
    @classmethod
    def _duration(cls, value: str) -> str:
        parse_duration(value)
        return value

    @field_validator("labels")
    @classmethod
    def _labels(cls, value: dict[str, str]) -> dict[str, str]:
        return _check_labels(value)


def _check_labels(labels: dict[str, str]) -> dict[str, str]:
    for name in labels:
        if not _LABEL_NAME.match(name):
            raise ValueError(f"label name {name!r} is not a valid Prometheus label name")
        if name.startswith(RESERVED_LABEL_PREFIX) or name in ("severity", "alertname"):
            raise ValueError(f"label name {name!r} is reserved for the SLO engine")
    return labels


class SLOSpec(StrictModel):
    """One service level objective."""

    name: Name = Field(description="unique SLO name, e.g. checkout-availability")
    service: Name
    description: str = ""
    objective: float = Field(
        gt=0, lt=1, description="target ratio of good events: 0.999 means 99.9 %"
    )
    window: str = Field(default="30d", description="rolling window, e.g. 28d or 30d")
    sli: SLI
    alerting: Alerting = Alerting()
    labels: dict[str, str] = Field(default_factory=dict, description="added to rules and alerts")

    @field_validator("objective", mode="before")
    @classmethod
    def _ratio_not_percent(cls, value: object) -> object:
        if isinstance(value, int | float) and 1 < value < 100:
            raise ValueError(
                f"objective is a ratio, not a percentage: write {value / 100:g} for {value}%"
            )
        return value

    @field_validator("window")
    @classmethod
    def _window(cls, value: str) -> str:
        seconds = parse_duration(value)
        if seconds < 3600:
            raise ValueError(f"window {value} is too short: SLO windows are hours to days")
        return value

    @field_validator("labels")
    @classmethod
    def _labels(cls, value: dict[str, str]) -> dict[str, str]:
        return _check_labels(value)

    @model_validator(mode="after")
    def _alert_windows_fit(self) -> SLOSpec:
        for row in self.alerting.windows:
            if row.long_s > self.window_s:
                raise ValueError(
                    f"alert window {row.long} is longer than the SLO window {self.window}"
                )
        return self

    @property
    def window_s(self) -> int:
        return parse_duration(self.window)

    @property
    def error_budget(self) -> float:
        """Allowed bad ratio: ``1 - objective`` (rounded: 0.001, not 0.0010000000000000009)."""
        return round(1.0 - self.objective, 12)


class WebhookTarget(StrictModel):
    url: str = Field(pattern=r"^https?://", description="receives Alertmanager-format payloads")
    timeout_s: float = Field(default=5.0, gt=0, le=60)


class Notifications(StrictModel):
    webhooks: list[WebhookTarget] = Field(default_factory=list)
    alertmanager_url: str | None = Field(
        default=None, pattern=r"^https?://", description="Alertmanager base URL (API v2)"
    )
    external_url: str = Field(default="", description="dashboard URL put into notifications")


class SLOFile(StrictModel):
    """A file of SLOs (``version: 1``); a cluster config may carry the same ``slos:`` list."""

    version: Literal[1] = Field(description="SLO file format version; currently 1")
    slos: list[SLOSpec] = Field(default_factory=list)
    notifications: Notifications = Notifications()

    @model_validator(mode="after")
    def _unique(self) -> SLOFile:
        seen: set[str] = set()
        for slo in self.slos:
            if slo.name in seen:
                raise ValueError(f"duplicate SLO name {slo.name!r}")
            seen.add(slo.name)
        return self
