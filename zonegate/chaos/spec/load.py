"""The load a drill runs (locust, headless, as a subprocess) and what it sends."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from zonegate.chaos.spec.common import Duration, PositiveDuration, StrictModel, Url


class RequestSpec(StrictModel):
    """One kind of request of the mix; picked with probability ``weight / sum(weights)``."""

    name: str | None = Field(default=None, max_length=100, description="default: METHOD path")
    method: Literal["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"] = "GET"
    path: str = Field(pattern=r"^/", max_length=2000)
    weight: int = Field(default=1, ge=1, le=1000)
    headers: dict[str, str] = Field(
        default_factory=dict, description="'{uuid}' in a value becomes a fresh UUID per request"
    )
    body: str | None = None

    @property
    def label(self) -> str:
        return self.name or f"{self.method} {self.path}"


def _default_requests() -> list[RequestSpec]:
    return [RequestSpec(path="/catalog/items")]


class LoadSpec(StrictModel):
    """Closed-model load: ``users`` each sending ``rate_per_user`` requests per second."""

    enabled: bool = True
    host: Url = Field(default="${glb}", description="where requests go (the GLB by default)")
    users: int = Field(default=10, ge=1, le=1000)
    spawn_rate: float = Field(default=100.0, gt=0, le=10000, description="users started per s")
    rate_per_user: float = Field(
        default=20.0, ge=0, le=10000, description="requests per second per user; 0 = no pause"
    )
    timeout_s: PositiveDuration = Field(default=5.0, description="per request")
    warmup_s: Duration = Field(default=2.0, description="load before the steady-state check")
    region: str | None = Field(default=None, description="sent as X-Client-Region")
    headers: dict[str, str] = Field(default_factory=dict)
    cookies: bool = Field(
        default=False,
        description=(
            "keep cookies per simulated user (GLB affinity cookies then pin users to the zone "
            "they failed over to); off: every request comes as a new client"
        ),
    )
    requests: list[RequestSpec] = Field(default_factory=_default_requests, min_length=1)

    @model_validator(mode="after")
    def _rate(self) -> LoadSpec:
        if self.users * self.rate_per_user > 20000:
            raise ValueError(
                f"{self.users} users x {self.rate_per_user:g} req/s is more than one locust "
                "process can send; lower users or rate_per_user"
            )
        return self

    @property
    def target_rps(self) -> float | None:
        return self.users * self.rate_per_user if self.rate_per_user > 0 else None
