"""The catalog from a config: teams, versions and weights, policies, SLOs, health, OpenAPI."""

from __future__ import annotations

from typing import Any

from zonegate.config.loader import parse_config
from zonegate.config.model import ClusterConfig
from zonegate.config.policies import RoutePolicies
from zonegate.node.delivery.catalog import build_catalog
from zonegate.node.delivery.catalog_health import health_view
from zonegate.node.delivery.catalog_page import render_page
from zonegate.node.delivery.openapi import openapi_paths, openapi_summary
from zonegate.slo.spec import SLOSpec


def config() -> ClusterConfig:
    return parse_config(
        {
            "version": 1,
            "cluster": "prod",
            "teams": [
                {
                    "name": "orders",
                    "path_prefixes": ["/orders"],
                    "description": "Order management",
                    "contact": "#orders",
                }
            ],
            "clusters": [
                {
                    "name": "orders-v1",
                    "endpoints": [
                        {"address": "10.0.0.1:80", "zone": "a"},
                        {"address": "10.0.0.2:80", "zone": "b"},
                    ],
                },
                {"name": "orders-v2", "endpoints": [{"address": "10.0.1.1:80", "zone": "a"}]},
                {"name": "orders-shadow", "endpoints": [{"address": "10.0.2.1:80", "zone": "a"}]},
                {"name": "web", "endpoints": [{"address": "10.0.3.1:80", "zone": "a"}]},
            ],
            "routes": [
                {
                    "name": "orders-api",
                    "team": "orders",
                    "description": "Read and place orders",
                    "match": {"path": {"prefix": "/orders"}, "methods": ["GET", "POST"]},
                    "upstream": "orders-v1",
                    "split": {
                        "clusters": [
                            {"cluster": "orders-v1", "weight": 95, "version": "1.8"},
                            {"cluster": "orders-v2", "weight": 5, "version": "2.0"},
                        ],
                        "sticky": {"cookie": "sid"},
                    },
                    "canary": [
                        {
                            "name": "staff",
                            "cluster": "orders-v2",
                            "header": {"name": "x-canary", "exact": "1"},
                        }
                    ],
                    "mirror": {"cluster": "orders-shadow", "percent": 10},
                },
                {
                    "name": "order-by-id",
                    "team": "orders",
                    "match": {"path": {"regex": "/orders/(?P<id>[0-9]+)"}},
                    "upstream": "orders-v1",
                },
                {"name": "web", "upstream": "web"},
            ],
        }
    )


def slos() -> list[SLOSpec]:
    common: dict[str, Any] = {"service": "orders", "objective": 0.999, "window": "30d"}
    return [
        SLOSpec.model_validate(
            {
                **common,
                "name": "orders-avail",
                "sli": {"kind": "availability", "route": "orders-api"},
            }
        ),
        SLOSpec.model_validate(
            {
                **common,
                "name": "canary-avail",
                "sli": {"kind": "availability", "cluster": "orders-v2"},
            }
        ),
        SLOSpec.model_validate(
            {**common, "name": "web-avail", "sli": {"kind": "availability", "route": "web"}}
        ),
    ]


def test_catalog_lists_teams_versions_weights_and_slos() -> None:
    catalog = build_catalog(config(), revision=7, slos=slos(), clock=lambda: 1000.0)
    assert [t.name for t in catalog.teams] == ["orders", "platform"]
    orders = catalog.teams[0]
    assert (orders.description, orders.contact, orders.path_prefixes) == (
        "Order management",
        "#orders",
        ["/orders"],
    )
    api = orders.routes[0]
    assert api.paths == "/orders/*" and api.methods == ["GET", "POST"]
    assert [(v.cluster, v.version, v.weight, v.share) for v in api.versions] == [
        ("orders-v1", "1.8", 95, 95.0),
        ("orders-v2", "2.0", 5, 5.0),
        ("orders-shadow", "shadow", None, None),
    ]
    assert [(z.zone, z.healthy, z.total) for z in api.versions[0].zones] == [
        ("a", None, 1),
        ("b", None, 1),
    ]
    assert api.sticky == "cookie sid"
    assert api.canary == ["staff: header x-canary=1 -> orders-v2"]
    assert api.mirror == "10% to orders-shadow"
    assert api.slos == ["orders-avail (99.9%)", "canary-avail (99.9%)"]
    assert api.auth == "none" and api.rate_limits == []
    assert catalog.teams[1].routes[0].slos == ["web-avail (99.9%)"]
    assert catalog.to_json()["teams"][0]["routes"][0]["versions"][1]["share"] == 5.0


def test_policies_are_described() -> None:
    base = config()
    policies = RoutePolicies.model_validate(
        {
            "auth": {"type": "api_key", "header": "x-key"},
            "authz": {"allow": {"groups": ["buyers"]}, "deny": {"consumers": ["mallory"]}},
            "rate_limits": [
                {"name": "per-ip", "algorithm": "token_bucket", "requests": 100, "per_s": 60},
                {
                    "name": "per-consumer",
                    "algorithm": "sliding_window",
                    "requests": 5,
                    "window_s": 1,
                    "key": ["consumer"],
                    "enforce": False,
                },
            ],
        }
    )
    route = base.routes[0].model_copy(update={"policies": policies})
    catalog = build_catalog(base.model_copy(update={"routes": [route, *base.routes[1:]]}))
    api = catalog.teams[0].routes[0]
    assert api.auth == "api_key (header x-key)"
    assert api.authz == "allow group:buyers; deny mallory"
    assert api.rate_limits == [
        "per-ip: 100/60s per ip (token_bucket, node)",
        "per-consumer: 5/1s per consumer (sliding_window, node, shadow)",
    ]
    document = openapi_summary(catalog, catalog.teams[0])
    assert document["components"]["securitySchemes"] == {
        "apiKey": {"type": "apiKey", "in": "header", "name": "x-key"}
    }
    get = document["paths"]["/orders/{rest}"]["get"]
    assert get["security"] == [{"apiKey": []}] and "429" in get["responses"]


def test_live_health_overrides_configured_counts() -> None:
    statuses: list[dict[str, Any]] = [
        {
            "clusters": {
                "orders-v1": {
                    "hosts": [
                        {"address": "10.0.0.1:80", "zone": "a", "healthy": True, "ejected": False},
                        {"address": "10.0.0.2:80", "zone": "b", "healthy": False},
                    ]
                }
            }
        },
        {
            "clusters": {
                "orders-v1": {
                    "hosts": [
                        {"address": "10.0.0.1:80", "zone": "a", "healthy": True, "ejected": True},
                        {"address": "10.0.0.2:80", "zone": "b", "healthy": False},
                    ]
                }
            }
        },
        {"clusters": {"orders-v1": {"hosts": [{"address": "10.0.0.1:80", "zone": "a"}]}}},
        {"not": "a status"},
    ]
    view = health_view(statuses)
    assert view == {"orders-v1": {"a": (1, 1), "b": (0, 1)}}  # 2 of 3 nodes see .1 healthy
    catalog = build_catalog(config(), health=view, health_sources=["n1", "n2", "n3"])
    zones = catalog.teams[0].routes[0].versions[0].zones
    assert [(z.zone, z.healthy, z.total) for z in zones] == [("a", 1, 1), ("b", 0, 1)]
    page = render_page(catalog, "/catalog")
    assert "live health from 3 node(s)" in page and "b 0/1" in page
    assert "href='/catalog/openapi/orders'" in page


def test_openapi_summary_of_a_team() -> None:
    catalog = build_catalog(config(), revision=3)
    document = openapi_summary(catalog, catalog.teams[0])
    assert document["openapi"] == "3.1.0"
    assert document["info"] == {
        "title": "orders APIs on prod",
        "version": "3",
        "description": "Order management",
        "contact": {"name": "#orders"},
    }
    assert set(document["paths"]) == {"/orders", "/orders/{rest}", "/orders/{id}"}
    listing = document["paths"]["/orders"]
    assert set(listing) == {"get", "post"}
    assert listing["get"]["summary"] == "Read and place orders"
    assert listing["get"]["x-zonegate-versions"][1]["share"] == 5.0
    by_id = document["paths"]["/orders/{id}"]
    assert by_id["parameters"][0]["name"] == "id"
    assert set(by_id) == {"parameters", "get", "post", "put", "patch", "delete"}
    assert by_id["get"]["summary"] == "order-by-id"  # no description: the route name


def test_openapi_path_templates() -> None:
    catalog = build_catalog(config())
    routes = {r.name: r for t in catalog.teams for r in t.routes}
    assert openapi_paths(routes["web"]) == ["/{rest}"]
    assert openapi_paths(routes["order-by-id"]) == ["/orders/{id}"]
