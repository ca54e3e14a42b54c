"""A real gateway node (the engine in this process) running the policy filters,
in front of real backends on loopback.

ClusterConfig has no policy fields yet, so routes' policies, consumers and
aggregates are passed next to the config and wired in with the node's
``route_filters`` hook, the same way the node will do it from config.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest
import uvloop
from prometheus_client import CollectorRegistry, generate_latest

from zonegate.config.aggregate import Aggregate
from zonegate.config.loader import parse_config
from zonegate.config.model import ClusterConfig
from zonegate.config.policies import Consumer, Policies, RoutePolicies
from zonegate.config.routes import RouteMatch
from zonegate.node.compose.upstream_send import cluster_sender
from zonegate.node.filters.base import Filter
from zonegate.node.filters.policy_build import build_route_filters
from zonegate.node.filters.policy_deps import CountingPolicyObserver, PolicyDeps, PolicyState
from zonegate.node.filters.policy_metrics import PrometheusPolicyObserver
from zonegate.node.runtime import GatewayNode
from zonegate.testing.backend import TestBackend


@dataclass(frozen=True)
class RouteView:
    name: str
    timeout_s: float
    match: RouteMatch
    policies: RoutePolicies | None = None
    aggregate: Aggregate | None = None


@dataclass(frozen=True)
class ConfigView:
    consumers: list[Consumer]
    policies: Policies
    routes: list[RouteView] = field(default_factory=list)


class FanOut(CountingPolicyObserver):
    """Counts in dicts and in Prometheus counters."""

    def __init__(self, prometheus: PrometheusPolicyObserver) -> None:
        super().__init__()
        self.prometheus = prometheus

    def auth_failed(self, route: str, method: str, reason: str) -> None:
        super().auth_failed(route, method, reason)
        self.prometheus.auth_failed(route, method, reason)

    def rate_limit_decision(self, route: str, limit: str, decision: str) -> None:
        super().rate_limit_decision(route, limit, decision)
        self.prometheus.rate_limit_decision(route, limit, decision)

    def composition_call(self, route: str, call: str, outcome: str, seconds: float) -> None:
        super().composition_call(route, call, outcome, seconds)
        self.prometheus.composition_call(route, call, outcome, seconds)


@dataclass
class PolicyGateway:
    node: GatewayNode
    observer: CountingPolicyObserver
    deps: PolicyDeps
    registry: CollectorRegistry

    def metrics_text(self) -> str:
        return generate_latest(self.registry).decode()

    def url(self, path: str = "/") -> str:
        assert self.node.address is not None
        return f"http://{self.node.address[0]}:{self.node.address[1]}{path}"


GatewayFactory = Callable[..., Awaitable[PolicyGateway]]
BackendFactory = Callable[..., Awaitable[TestBackend]]


def policy_builder(
    config: ClusterConfig,
    consumers: Sequence[Consumer],
    policies: Policies,
    route_policies: dict[str, Any],
    aggregates: dict[str, Aggregate],
    deps: PolicyDeps,
) -> Callable[[ClusterConfig, str], list[Filter]]:
    views: dict[int, ConfigView] = {}

    def view_of(cfg: ClusterConfig) -> ConfigView:
        found = views.get(id(cfg))
        if found is None:
            routes = [
                RouteView(
                    r.name,
                    r.timeout_s,
                    r.match,
                    RoutePolicies.model_validate(route_policies.get(r.name, {})),
                    aggregates.get(r.name),
                )
                for r in cfg.routes
            ]
            views.clear()
            found = views[id(cfg)] = ConfigView(list(consumers), policies, routes)
        return found

    def build(cfg: ClusterConfig, route_name: str) -> list[Filter]:
        view = view_of(cfg)
        route = next(r for r in view.routes if r.name == route_name)
        return build_route_filters(route, view, deps)

    return build


@pytest.fixture
async def policy_gateway() -> AsyncIterator[GatewayFactory]:
    nodes: list[GatewayNode] = []

    async def make(
        config: dict[str, Any],
        *,
        route_policies: dict[str, Any] | None = None,
        consumers: Sequence[Consumer] = (),
        policies: dict[str, Any] | None = None,
        aggregates: dict[str, Aggregate] | None = None,
        **node_kwargs: Any,
    ) -> PolicyGateway:
        document = parse_config({"version": 1, **config})
        registry = CollectorRegistry()
        observer = FanOut(PrometheusPolicyObserver(registry, "node-1", "zone-a"))
        holder: list[GatewayNode] = []
        deps = PolicyDeps(
            node="node-1",
            zone="zone-a",
            state=PolicyState(),
            observer=observer,
            send=cluster_sender(lambda: holder[0].snapshot.clusters),
        )
        builder = policy_builder(
            document,
            consumers,
            Policies.model_validate(policies or {}),
            route_policies or {},
            aggregates or {},
            deps,
        )
        node = GatewayNode(
            document, node_id="node-1", zone="zone-a", route_filters=builder, **node_kwargs
        )
        holder.append(node)
        await node.start("127.0.0.1", 0)
        nodes.append(node)
        return PolicyGateway(node, observer, deps, registry)

    yield make
    for node in nodes:
        await node.stop()
    await asyncio.sleep(0)


def pytest_asyncio_loop_factories(config: object, item: object) -> dict[str, object]:
    """Run on uvloop, the loop nodes run on in production."""
    return {"uvloop": uvloop.new_event_loop}
