"""Build a route's policy filters from config: the one entry point the node calls.

Order (request path): strip client X-Consumer-Name -> CORS (preflights) ->
authentication -> authorization -> rate limits -> header transforms ->
composition (aggregate routes answer here). Response hooks run in reverse.
Everything that can be is computed here, once per snapshot.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from zonegate.config.aggregate import Aggregate
from zonegate.config.policies import (
    ApiKeyAuth,
    Consumer,
    JwtAuth,
    Policies,
    RateLimit,
    RoutePolicies,
    TokenBucketLimit,
)
from zonegate.node.compose.plan import PlanError, plan_aggregate
from zonegate.node.filters.aggregate import AggregateFilter
from zonegate.node.filters.auth_common import ConsumerHeaderFilter
from zonegate.node.filters.auth_jwt import JwtAuthFilter
from zonegate.node.filters.auth_key import (
    ApiKeyAuthFilter,
    Credential,
    KdfApiKeyAuthFilter,
    credentials_by_id,
)
from zonegate.node.filters.authz import AuthzFilter
from zonegate.node.filters.base import Filter
from zonegate.node.filters.cors import CorsFilter
from zonegate.node.filters.policy_deps import PolicyDeps
from zonegate.node.filters.ratelimit import BoundLimit, RateLimitFilter, RateLimitHeadersFilter
from zonegate.node.filters.transform import ResponseTransformFilter, TransformFilter
from zonegate.node.policy.client_ip import ClientIpResolver
from zonegate.node.policy.decision import LimitSpec
from zonegate.node.policy.errors import PolicyBuildError
from zonegate.node.policy.jwt_keys import JwksFile, config_key
from zonegate.node.policy.jwt_validation import JwtValidator
from zonegate.node.policy.keys import ClientKey, compile_key
from zonegate.node.policy.limiter import RateLimitBackend


class PathMatchView(Protocol):
    @property
    def regex(self) -> str | None: ...


class RouteMatchView(Protocol):
    @property
    def path(self) -> PathMatchView: ...


class RouteView(Protocol):
    """What is read from a route (zonegate.config.routes.Route once it has the fields)."""

    @property
    def name(self) -> str: ...

    @property
    def timeout_s(self) -> float: ...

    @property
    def match(self) -> RouteMatchView: ...

    @property
    def policies(self) -> RoutePolicies | None: ...

    @property
    def aggregate(self) -> Aggregate | None: ...


class PolicyConfigView(Protocol):
    """What is read from the cluster config (ClusterConfig once it has the fields)."""

    @property
    def consumers(self) -> Sequence[Consumer]: ...

    @property
    def policies(self) -> Policies: ...

    @property
    def routes(self) -> Sequence[RouteView]: ...


def effective_policies(route: RouteView, config: PolicyConfigView) -> RoutePolicies:
    own = route.policies or RoutePolicies()
    return own.merged_over(config.policies.defaults)


def limit_spec(cfg: RateLimit) -> LimitSpec:
    if isinstance(cfg, TokenBucketLimit):
        return LimitSpec(
            cfg.name,
            "token_bucket",
            cfg.requests,
            cfg.per_s,
            cfg.burst or cfg.requests,
            cfg.max_keys,
            cfg.scope,
        )
    return LimitSpec(
        cfg.name,
        "sliding_window",
        cfg.requests,
        cfg.window_s,
        cfg.requests,
        cfg.max_keys,
        cfg.scope,
    )


class _Snapshot:
    """Per-config-snapshot pieces shared by all routes."""

    def __init__(self, config: PolicyConfigView, deps: PolicyDeps) -> None:
        policies = config.policies
        deps.state.verified_keys.max_size = policies.api_key_cache_size
        self.credentials: dict[str, Credential] = credentials_by_id(config.consumers)
        self.slow_credentials = any(c.stored.slow for c in self.credentials.values())
        self.consumer_groups = {c.name: frozenset(c.groups) for c in config.consumers}
        self.client = ClientKey(
            ClientIpResolver(policies.trusted_proxies), policies.ipv6_key_prefix
        )
        self.validators: dict[str, JwtValidator] = {}

    def validator(self, cfg: JwtAuth, deps: PolicyDeps) -> JwtValidator:
        key = cfg.model_dump_json()
        validator = self.validators.get(key)
        if validator is None:
            static = [config_key(k, deps.environ) for k in cfg.keys]
            jwks = JwksFile(cfg.jwks_file, cfg.algorithms, deps.clock) if cfg.jwks_file else None
            validator = JwtValidator(cfg, static, jwks, self.consumer_groups, deps.wall_clock)
            self.validators[key] = validator
        return validator


def _snapshot(config: PolicyConfigView, deps: PolicyDeps) -> _Snapshot:
    memo = deps.state.snapshot_memo(config)
    shared = memo.get("policies")
    if not isinstance(shared, _Snapshot):
        shared = memo["policies"] = _Snapshot(config, deps)
    return shared


def _backend(route: str, spec: LimitSpec, deps: PolicyDeps) -> RateLimitBackend:
    local = deps.state.limiters.limiter(route, spec)
    if spec.scope == "cluster" and deps.global_rate_limits is not None:
        return deps.global_rate_limits(route, spec, local)
    return local


def build_route_filters(
    route: RouteView, config: PolicyConfigView, deps: PolicyDeps
) -> list[Filter]:
    """The policy filters of one route, in order. Raises PolicyBuildError on bad material."""
    shared = _snapshot(config, deps)
    policies = effective_policies(route, config)
    filters: list[Filter] = [ConsumerHeaderFilter()]
    if policies.cors is not None and policies.cors.enabled:
        filters.append(CorsFilter(policies.cors))
    auth = policies.auth
    if isinstance(auth, ApiKeyAuth):
        key_filter = KdfApiKeyAuthFilter if shared.slow_credentials else ApiKeyAuthFilter
        filters.append(key_filter(auth, shared.credentials, deps.state, deps.observer))
    elif isinstance(auth, JwtAuth):
        filters.append(JwtAuthFilter(auth, shared.validator(auth, deps), deps.observer))
    if policies.authz is not None:
        filters.append(AuthzFilter(policies.authz, deps.observer))
    if policies.rate_limits:
        bound = [
            BoundLimit(
                name=cfg.name,
                backend=_backend(route.name, limit_spec(cfg), deps),
                key=compile_key(cfg.key, route.name, shared.client),
                enforce=cfg.enforce,
                headers=cfg.headers,
            )
            for cfg in policies.rate_limits
        ]
        cls = RateLimitHeadersFilter if any(b.headers for b in bound) else RateLimitFilter
        filters.append(cls(route.name, bound, deps.observer, deps.clock))
    if policies.transform is not None:
        static = {"zone": deps.zone, "node": deps.node, "route": route.name}
        transform = policies.transform
        has_response = transform.response_headers != type(transform.response_headers)()
        cls_t = ResponseTransformFilter if has_response else TransformFilter
        filters.append(cls_t(transform, static, shared.client.client_ip))
    if route.aggregate is not None:
        if deps.send is None:
            raise PolicyBuildError(f"route {route.name}: aggregate routes need the engine's send")
        regex = route.match.path.regex
        try:
            plan = plan_aggregate(route.aggregate, regex)
        except PlanError as exc:
            raise PolicyBuildError(f"route {route.name}: {exc}") from None
        filters.append(
            AggregateFilter(route.name, plan, regex, route.timeout_s, deps.send, deps.observer)
        )
    return filters


def route_filter_builder(
    deps: PolicyDeps,
) -> Callable[[PolicyConfigView, str], list[Filter]]:
    """``(config, route name) -> filters``: the shape the snapshot builder takes."""

    def build(config: PolicyConfigView, route_name: str) -> list[Filter]:
        for route in config.routes:
            if route.name == route_name:
                return build_route_filters(route, config, deps)
        raise KeyError(route_name)

    return build
