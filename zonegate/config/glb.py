"""Zones, regions and the global load balancer's settings."""

from __future__ import annotations

import ipaddress
from typing import Literal

from pydantic import Field, field_validator

from zonegate.config.base import Name, Ratio, Seconds, StrictModel


class StaticNode(StrictModel):
    """A gateway node the GLB knows without etcd."""

    id: str
    address: str = Field(description="traffic address host:port")
    admin: str = Field(description="admin address host:port (health checks hit /readyz)")


class Zone(StrictModel):
    name: Name
    region: Name
    location: str = Field(default="", description="free text, e.g. 'Dublin'")
    static_nodes: list[StaticNode] = Field(
        default_factory=list,
        description="nodes used when etcd is not configured or unreachable at start",
    )


class Region(StrictModel):
    """A client region and the zones that serve it, most preferred first."""

    name: Name
    zones: list[str] = Field(
        default_factory=list,
        description="zone preference; empty = derived from latency_ms, then config order",
    )
    latency_ms: dict[str, float] = Field(
        default_factory=dict, description="measured latency from this region to each zone"
    )
    cidrs: list[str] = Field(
        default_factory=list, description="client source networks that belong to this region"
    )

    @field_validator("cidrs")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for cidr in value:
            try:
                ipaddress.ip_network(cidr, strict=False)
            except ValueError as exc:
                raise ValueError(f"invalid CIDR {cidr!r}: {exc}") from exc
        return value


class GlbHealthCheck(StrictModel):
    path: str = "/readyz"
    interval_s: Seconds = 0.5
    fast_interval_s: Seconds = 0.1
    timeout_s: Seconds = 0.3
    rise: int = Field(default=2, ge=1)
    fall: int = Field(default=2, ge=1)
    jitter: Ratio = 0.1


class StickySessions(StrictModel):
    enabled: bool = False
    cookie: str = "zg_affinity"
    pin_node: bool = False
    max_age_s: int = Field(default=3600, ge=1)


class GlbSettings(StrictModel):
    region_header: str = "x-client-region"
    default_region: str | None = Field(
        default=None, description="region of clients with no header and no matching CIDR"
    )
    health_check: GlbHealthCheck = GlbHealthCheck()
    overprovisioning_factor: float = Field(default=1.4, ge=1.0, le=10.0)
    panic: Literal["fail_open", "fail_closed"] = Field(
        default="fail_open",
        description="when no zone has a healthy node: try every node anyway, or answer 503",
    )
    failback_hold_down_s: Seconds = 10.0
    failback_ramp_s: Seconds = 5.0
    sticky: StickySessions = StickySessions()
    retry_attempts: int = Field(default=3, ge=1, le=10)
    retry_budget_percent: float = Field(default=20.0, ge=0, le=100)
    timeout_s: Seconds = 30.0
    connect_timeout_s: Seconds = 0.5
