"""Upstream cluster configuration: endpoints, load balancing, health, breakers."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from zonegate.config.base import Name, Ratio, Seconds, StrictModel
from zonegate.config.upstream_tls import UpstreamTls


class Endpoint(StrictModel):
    """One upstream host: ``address`` is ``host:port``."""

    address: str = Field(description="host:port of the upstream host")
    zone: str = Field(default="", description="zone the host runs in; empty = unknown")
    weight: int = Field(default=1, ge=1, le=1000)

    @field_validator("address")
    @classmethod
    def _check_address(cls, value: str) -> str:
        host, sep, port = value.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"address must be host:port, got {value!r}")
        return value

    @property
    def host(self) -> str:
        return self.address.rpartition(":")[0].strip("[]")

    @property
    def port(self) -> int:
        return int(self.address.rpartition(":")[2])


class LoadBalancer(StrictModel):
    policy: Literal["round_robin", "least_request", "random", "ring_hash"] = "least_request"
    hash_header: str | None = Field(default=None, description="ring_hash: header to hash on")
    hash_cookie: str | None = Field(default=None, description="ring_hash: cookie to hash on")

    @model_validator(mode="after")
    def _hash_source(self) -> LoadBalancer:
        if self.policy == "ring_hash" and not (self.hash_header or self.hash_cookie):
            raise ValueError("ring_hash needs hash_header or hash_cookie")
        return self


class ZoneAware(StrictModel):
    """Envoy priority semantics: local zone first, spill when it is short of healthy hosts."""

    enabled: bool = True
    overprovisioning_factor: float = Field(default=1.4, ge=1.0, le=10.0)
    panic_threshold: Ratio = 0.5


class HealthCheck(StrictModel):
    path: str = "/healthz"
    interval_s: Seconds = 5.0
    fast_interval_s: Seconds = Field(
        default=0.5, description="interval while a host is changing state"
    )
    timeout_s: Seconds = 1.0
    healthy_threshold: int = Field(default=2, ge=1, le=100)
    unhealthy_threshold: int = Field(default=3, ge=1, le=100)
    expected_statuses: list[int] = Field(default_factory=lambda: [200])
    jitter: Ratio = 0.1
    host_header: str | None = None


class OutlierDetection(StrictModel):
    consecutive_5xx: int = Field(default=5, ge=1)
    consecutive_local_failures: int = Field(default=3, ge=1)
    base_ejection_s: Seconds = 10.0
    max_ejection_s: Seconds = 300.0
    max_ejection_percent: int = Field(default=50, ge=0, le=100)


class ErrorRateBreaker(StrictModel):
    """Closed / open / half-open breaker on the cluster's error rate."""

    enabled: bool = True
    threshold: Ratio = 0.5
    min_requests: int = Field(default=20, ge=1)
    window_s: Seconds = 10.0
    open_s: Seconds = 5.0
    half_open_requests: int = Field(default=3, ge=1)


class CircuitBreaker(StrictModel):
    """Envoy thresholds plus an error-rate breaker."""

    max_connections: int = Field(default=1024, ge=1)
    max_pending_requests: int = Field(default=1024, ge=0)
    max_requests: int = Field(default=1024, ge=1)
    max_retries: int = Field(default=3, ge=0)
    error_rate: ErrorRateBreaker = ErrorRateBreaker()


class ConnectionPool(StrictModel):
    max_idle_per_host: int = Field(default=64, ge=0)
    idle_timeout_s: Seconds = 60.0


class Cluster(StrictModel):
    """A named set of upstream endpoints."""

    name: Name
    endpoints: list[Endpoint] = Field(default_factory=list)
    service: str | None = Field(
        default=None, description="take endpoints from etcd service registrations"
    )
    connect_timeout_s: Seconds = 1.0
    lb: LoadBalancer = LoadBalancer()
    zone_aware: ZoneAware = ZoneAware()
    health_check: HealthCheck | None = None
    outlier_detection: OutlierDetection | None = OutlierDetection()
    circuit_breaker: CircuitBreaker = CircuitBreaker()
    pool: ConnectionPool = ConnectionPool()
    tls: UpstreamTls | None = Field(default=None, description="TLS (and mTLS) to the upstream")

    @model_validator(mode="after")
    def _has_endpoints(self) -> Cluster:
        if not self.endpoints and not self.service:
            raise ValueError("a cluster needs endpoints or a service name")
        seen: set[str] = set()
        for endpoint in self.endpoints:
            if endpoint.address in seen:
                raise ValueError(f"duplicate endpoint {endpoint.address}")
            seen.add(endpoint.address)
        return self
