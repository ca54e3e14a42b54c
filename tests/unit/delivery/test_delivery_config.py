"""Validation of the delivery parts of a config: every problem with its path."""

from __future__ import annotations

from typing import Any

import pytest

from zonegate.config.loader import parse_config
from zonegate.errors import ConfigError


def document(route: dict[str, Any], **top: Any) -> dict[str, Any]:
    return {
        "version": 1,
        "clusters": [
            {"name": n, "endpoints": [{"address": f"127.0.0.1:{i + 1}"}]}
            for i, n in enumerate(("orders-v1", "orders-v2", "orders-shadow"))
        ],
        "routes": [{"name": "orders", "upstream": "orders-v1", **route}],
        **top,
    }


def problems(doc: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(doc)
    return info.value.problems


def test_a_full_delivery_route_is_valid() -> None:
    config = parse_config(
        document(
            {
                "split": {
                    "clusters": [
                        {"cluster": "orders-v1", "weight": 95, "version": "1.4"},
                        {"cluster": "orders-v2", "weight": 5, "version": "2.0"},
                    ],
                    "sticky": {"cookie": "session"},
                },
                "canary": [{"name": "staff", "cluster": "orders-v2", "consumer_groups": ["staff"]}],
                "mirror": {"cluster": "orders-shadow", "percent": 10},
                "error_pages": {"upstream_errors": "replace"},
            }
        )
    )
    route = config.routes[0]
    assert route.split is not None and route.split.total() == 100


def test_unknown_clusters_are_reported_with_paths_and_hints() -> None:
    found = problems(
        document(
            {
                "split": {
                    "clusters": [
                        {"cluster": "orders-v1", "weight": 1},
                        {"cluster": "orders-v3", "weight": 1},
                    ]
                },
                "canary": [{"name": "c", "cluster": "ordres-v2", "header": {"name": "x-c"}}],
                "mirror": {"cluster": "orders-shadw"},
            }
        )
    )
    hint = "unknown cluster {!r} (did you mean {!r}?)"
    assert "routes[0].split.clusters[1].cluster: " + hint.format("orders-v3", "orders-v2") in found
    assert "routes[0].canary[0].cluster: " + hint.format("ordres-v2", "orders-v2") in found
    assert "routes[0].mirror.cluster: " + hint.format("orders-shadw", "orders-shadow") in found


@pytest.mark.parametrize(
    ("route", "expected"),
    [
        (
            {"split": {"clusters": [{"cluster": "orders-v2", "weight": 1}]}},
            "routes[0].split.clusters: the route's upstream 'orders-v1'",
        ),
        (
            {"split": {"clusters": [{"cluster": "orders-v1", "weight": 0}]}},
            "routes[0].split: the weights of a split must not all be 0",
        ),
        (
            {"split": {"clusters": [{"cluster": "orders-v1", "weight": 1}] * 2}},
            "cluster listed twice in the split: orders-v1",
        ),
        (
            {"split": {"clusters": [{"cluster": "orders-v1", "weight": 1}], "sticky": {}}},
            "sticky needs exactly one of header, cookie",
        ),
        ({"canary": [{"name": "c", "cluster": "orders-v2"}]}, "a canary rule needs a condition"),
        ({"mirror": {"cluster": "orders-shadow", "percent": 0}}, "routes[0].mirror.percent"),
        (
            {"error_pages": {"by_status": {200: {"json_template": {}}}}},
            "by_status keys are error statuses",
        ),
        (
            {"error_pages": {"default": {"json_template": {"a": "${who}"}}}},
            "unknown variable ${who}",
        ),
        ({"error_pages": {"default": {}}}, "an error template needs json_template"),
    ],
)
def test_refusals(route: dict[str, Any], expected: str) -> None:
    assert any(expected in p for p in problems(document(route))), problems(document(route))


def test_team_delegations_must_not_overlap() -> None:
    found = problems(
        document(
            {},
            teams=[
                {"name": "orders", "path_prefixes": ["/orders"]},
                {"name": "billing", "path_prefixes": ["/orders/invoices", "/billing"]},
                {"name": "search", "hosts": ["search.example.com"]},
                {"name": "web", "hosts": ["*.example.com"], "path_prefixes": ["/web"]},
                {"name": "www", "hosts": ["www.example.org"], "path_prefixes": ["/web"]},
            ],
        )
    )
    assert any("teams[1].path_prefixes: team 'billing'" in p for p in found)
    assert any("teams[3].path_prefixes" in p for p in found)  # search.example.com/web
    assert not any("teams[4]" in p for p in found)  # /web on other hosts: fine
