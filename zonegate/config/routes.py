"""Route configuration: matching, rewriting, retries and timeouts."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from zonegate.config.aggregate import Aggregate
from zonegate.config.base import Name, Ratio, Seconds, StrictModel
from zonegate.config.delivery import CanaryRule, ErrorPages, Mirror, TrafficSplit
from zonegate.config.policies import RoutePolicies

RetryOn = Literal[
    "connect-failure", "reset", "5xx", "gateway-error", "retriable-status-codes", "timeout"
]


def _check_regex(value: str | None) -> str | None:
    if value is not None:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"invalid regular expression {value!r}: {exc}") from exc
    return value


class PathMatch(StrictModel):
    """Exactly one of ``exact``, ``prefix`` or ``regex``."""

    exact: str | None = None
    prefix: str | None = None
    regex: str | None = None

    _regex = field_validator("regex")(_check_regex)

    @model_validator(mode="after")
    def _one_kind(self) -> PathMatch:
        given = [k for k in ("exact", "prefix", "regex") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("path match needs exactly one of exact, prefix, regex")
        for key in ("exact", "prefix"):
            value = getattr(self, key)
            if value is not None and not value.startswith("/"):
                raise ValueError(f"path {key} must start with '/', got {value!r}")
        return self


class HeaderMatch(StrictModel):
    name: str
    exact: str | None = None
    regex: str | None = None
    present: bool | None = None
    invert: bool = False

    _regex = field_validator("regex")(_check_regex)


class RouteMatch(StrictModel):
    path: PathMatch = PathMatch(prefix="/")
    hosts: list[str] = Field(
        default_factory=list, description="Host header values; '*.example.com' wildcards"
    )
    methods: list[str] = Field(default_factory=list)
    headers: list[HeaderMatch] = Field(default_factory=list)

    @field_validator("methods")
    @classmethod
    def _upper(cls, value: list[str]) -> list[str]:
        return [m.upper() for m in value]


class Rewrite(StrictModel):
    strip_prefix: str | None = None
    prefix: str | None = Field(default=None, description="replace the matched prefix with this")
    regex: str | None = None
    substitution: str | None = None

    _regex = field_validator("regex")(_check_regex)

    @model_validator(mode="after")
    def _pairs(self) -> Rewrite:
        if (self.regex is None) != (self.substitution is None):
            raise ValueError("regex rewrite needs both regex and substitution")
        return self


class Backoff(StrictModel):
    base_s: Seconds = 0.025
    max_s: Seconds = 0.25


class RetryBudget(StrictModel):
    """At most ``percent`` of active requests may be retries, but always ``min_concurrency``."""

    percent: float = Field(default=20.0, ge=0, le=100)
    min_concurrency: int = Field(default=3, ge=0)


def _default_retry_on() -> list[RetryOn]:
    return ["connect-failure", "reset"]


class RetryPolicy(StrictModel):
    retry_on: list[RetryOn] = Field(default_factory=_default_retry_on)
    max_attempts: int = Field(default=2, ge=1, le=10, description="attempts including the first")
    per_try_timeout_s: Seconds | None = None
    retriable_status_codes: list[int] = Field(default_factory=list)
    backoff: Backoff = Backoff()
    budget: RetryBudget = RetryBudget()
    allow_non_idempotent: bool = False


class Route(StrictModel):
    name: Name
    match: RouteMatch = RouteMatch()
    upstream: str | None = Field(
        default=None, description="name of the cluster to proxy to (not for aggregate routes)"
    )
    rewrite: Rewrite | None = None
    timeout_s: Seconds = 15.0
    retry: RetryPolicy = RetryPolicy()
    filters: list[str] = Field(default_factory=list, description="extra filters by name")
    buffer_bytes: int = Field(
        default=65536,
        ge=0,
        description="request body kept for retries; larger ones are not retried",
    )
    # progressive delivery and ownership (zonegate.config.delivery, zonegate.config.teams)
    description: str = Field(default="", description="what the API does (catalog, OpenAPI)")
    team: Name | None = Field(default=None, description="owning team; set for team fragments")
    split: TrafficSplit | None = Field(default=None, description="weighted clusters")
    canary: list[CanaryRule] = Field(default_factory=list, description="targeted canary rules")
    mirror: Mirror | None = Field(default=None, description="copy requests to a shadow cluster")
    error_pages: ErrorPages | None = Field(default=None, description="bodies of gateway errors")
    # policies (zonegate.config.policies, zonegate.config.aggregate)
    policies: RoutePolicies | None = Field(
        default=None, description="auth, authz, rate limits, transforms, CORS (over defaults)"
    )
    aggregate: Aggregate | None = Field(
        default=None, description="answer by composing several upstream calls"
    )

    @model_validator(mode="after")
    def _target(self) -> Route:
        if self.upstream is None and self.aggregate is None:
            raise ValueError("a route needs an upstream cluster or an aggregate")
        if self.upstream is not None and self.aggregate is not None:
            raise ValueError("a route has either an upstream or an aggregate, not both")
        return self


__all__ = ["Ratio", "Route", "RouteMatch"]
