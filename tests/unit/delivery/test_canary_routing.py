"""Canary rules, the route's cluster choice and mirror sampling (no sockets)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from zonegate.config.delivery import CanaryRule, Mirror
from zonegate.config.routes import Route
from zonegate.node.context import RequestContext
from zonegate.node.delivery.canary import CompiledCanary, cookie_value
from zonegate.node.delivery.routing import RouteDelivery, RouteMirror, build_deliveries
from zonegate.node.http import Request
from zonegate.node.policy.identity import IDENTITY_ATTRIBUTE, Identity


def request(**headers: str) -> Request:
    return Request(
        "GET",
        "/orders",
        "",
        [(k.replace("_", "-").encode(), v.encode()) for k, v in headers.items()],
    )


def rule(**kwargs: Any) -> CompiledCanary:
    return CompiledCanary(CanaryRule.model_validate({"name": "r", "cluster": "v2", **kwargs}))


def test_header_conditions() -> None:
    present = rule(header={"name": "X-Canary"})
    exact = rule(header={"name": "x-canary", "exact": "always"})
    regex = rule(header={"name": "x-user", "regex": "beta-[0-9]+"})
    assert present.matches(request(x_canary="anything"), None)
    assert not present.matches(request(), None)
    assert exact.matches(request(x_canary="always"), None)
    assert not exact.matches(request(x_canary="never"), None)
    assert regex.matches(request(x_user="beta-17"), None)
    assert not regex.matches(request(x_user="beta-17x"), None)  # full match only


def test_cookie_conditions() -> None:
    req = request(cookie="a=1; canary=yes; b=2")
    assert cookie_value(req, b"canary") == b"yes"
    assert cookie_value(req, b"c") is None
    assert rule(cookie={"name": "canary"}).matches(req, None)
    assert rule(cookie={"name": "canary", "exact": "yes"}).matches(req, None)
    assert not rule(cookie={"name": "canary", "exact": "no"}).matches(req, None)


def test_consumer_conditions_need_an_identity() -> None:
    groups = rule(consumer_groups=["beta-testers"])
    assert groups.needs_identity
    assert not groups.matches(request(), None)
    assert groups.matches(request(), Identity("ann", frozenset({"beta-testers"})))
    assert not groups.matches(request(), Identity("bob", frozenset({"staff"})))
    assert rule(consumers=["bob"]).matches(request(), Identity("bob"))


def test_all_conditions_must_hold() -> None:
    both = rule(header={"name": "x-canary"}, consumers=["ann"])
    assert not both.matches(request(x_canary="1"), Identity("bob"))
    assert not both.matches(request(), Identity("ann"))
    assert both.matches(request(x_canary="1"), Identity("ann"))


def route(**kwargs: Any) -> Route:
    return Route.model_validate({"name": "orders", "upstream": "v1", **kwargs})


def test_route_without_delivery_features_is_not_compiled() -> None:
    assert build_deliveries([route()]) == {}
    assert set(build_deliveries([route(mirror={"cluster": "shadow"})])) == {"orders"}


def test_canary_rules_win_over_the_split() -> None:
    delivery = RouteDelivery(
        route(
            split={"clusters": [{"cluster": "v1", "weight": 1}]},
            canary=[{"name": "dark", "cluster": "v2", "header": {"name": "x-dark"}}],
        )
    )
    assert {delivery.choose(request(x_dark="1"), None) for _ in range(20)} == {"v2"}
    assert {delivery.choose(request(), None) for _ in range(20)} == {"v1"}


def test_consumer_group_rule_reads_the_identity_from_the_context() -> None:
    delivery = RouteDelivery(
        route(canary=[{"name": "beta", "cluster": "v2", "consumer_groups": ["beta"]}])
    )
    assert delivery.needs_identity
    ctx = RequestContext()
    assert delivery.choose(request(), ctx) == "v1"
    ctx.set_attribute(IDENTITY_ATTRIBUTE, Identity("ann", frozenset({"beta"})))
    assert delivery.choose(request(), ctx) == "v2"


def test_sticky_header_keeps_each_client_on_one_version() -> None:
    delivery = RouteDelivery(
        route(
            split={
                "clusters": [{"cluster": "v1", "weight": 80}, {"cluster": "v2", "weight": 20}],
                "sticky": {"header": "X-User"},
            }
        )
    )
    seen: dict[str, set[str]] = {}
    for round_ in range(3):
        for i in range(2000):
            user = f"user-{i}"
            seen.setdefault(user, set()).add(delivery.choose(request(x_user=user), None))
        assert round_ >= 0
    assert all(len(v) == 1 for v in seen.values())
    share = Counter(next(iter(v)) for v in seen.values())
    assert 0.17 <= share["v2"] / 2000 <= 0.23
    # requests without the header are split by weight, exactly
    counts = Counter(delivery.choose(request(), None) for _ in range(1000))
    assert counts == {"v1": 800, "v2": 200}


def test_sticky_cookie() -> None:
    delivery = RouteDelivery(
        route(
            split={
                "clusters": [{"cluster": "v1", "weight": 1}, {"cluster": "v2", "weight": 1}],
                "sticky": {"cookie": "session"},
            }
        )
    )
    picks = {delivery.choose(request(cookie="session=abc"), None) for _ in range(50)}
    assert len(picks) == 1


def test_mirror_sampling_is_exact() -> None:
    mirror = RouteMirror("orders", Mirror(cluster="shadow", percent=12.5))
    due = [mirror.due() for _ in range(800)]
    assert sum(due) == 100
    assert all(RouteMirror("r", Mirror(cluster="s")).due() for _ in range(10))


def test_unchanged_routes_keep_their_schedule_across_snapshots() -> None:
    split = {"clusters": [{"cluster": "v1", "weight": 3}, {"cluster": "v2", "weight": 1}]}
    first = build_deliveries([route(split=split), route(name="other", mirror={"cluster": "s"})])
    picks = [first["orders"].choose(request(), None) for _ in range(2)]
    again = build_deliveries([route(split=split)], first)
    assert again["orders"] is first["orders"]
    picks += [again["orders"].choose(request(), None) for _ in range(2)]
    assert Counter(picks) == {"v1": 3, "v2": 1}  # one exact period across the swap
    changed = build_deliveries([route(split={**split, "sticky": {"header": "x-u"}})], first)
    assert changed["orders"] is not first["orders"]
