"""Team delegations, fragment checks, the merge (bad fragments dropped alone), and diffs."""

from __future__ import annotations

from typing import Any

import pytest

from zonegate.config.loader import parse_config
from zonegate.config.teams import (
    TeamFragment,
    host_within,
    path_under,
    regex_literal_prefix,
)
from zonegate.coordinator.fragment_diff import diff_fragments
from zonegate.coordinator.fragment_merge import FragmentInput, merge


def platform(**extra: Any) -> dict[str, Any]:
    return {
        "version": 1,
        "clusters": [{"name": "web", "endpoints": [{"address": "127.0.0.1:1"}]}],
        "routes": [{"name": "web", "upstream": "web"}],  # a catch-all
        "teams": [
            {"name": "orders", "path_prefixes": ["/orders"], "description": "Orders team"},
            {"name": "search", "hosts": ["search.example.com"], "path_prefixes": ["/search"]},
        ],
        **extra,
    }


def orders(routes: list[dict[str, Any]] | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "version": 1,
        "clusters": [{"name": "orders-api", "endpoints": [{"address": "127.0.0.1:2"}]}],
        "routes": routes
        if routes is not None
        else [
            {
                "name": "orders-api",
                "match": {"path": {"prefix": "/orders"}},
                "upstream": "orders-api",
                "description": "Orders API",
            }
        ],
        **extra,
    }


def search() -> dict[str, Any]:
    return {
        "version": 1,
        "clusters": [{"name": "search-v1", "endpoints": [{"address": "127.0.0.1:3"}]}],
        "routes": [
            {
                "name": "search-all",
                "match": {"hosts": ["search.example.com"], "path": {"prefix": "/search"}},
                "upstream": "search-v1",
            }
        ],
    }


def test_path_host_and_regex_helpers() -> None:
    assert path_under("/orders", "/orders") and path_under("/orders/1", "/orders/")
    assert not path_under("/ordersx", "/orders") and not path_under("/", "/orders")
    assert host_within("a.x.com", "*.x.com") and host_within("*.a.x.com", "*.x.com")
    assert not host_within("x.com", "*.x.com") and not host_within("evil.com", "x.com")
    assert regex_literal_prefix("^/orders/(?P<id>[0-9]+)$") == ("/orders/", False)
    assert regex_literal_prefix(r"/orders\/all") == ("/orders/all", True)


def test_good_fragments_merge_before_the_platform_routes() -> None:
    result = merge(
        platform(),
        [FragmentInput("orders", orders(), 5), FragmentInput("search", search(), 6)],
    )
    assert result.dropped == {}
    assert result.teams == ("orders", "search")
    names = [(r.name, r.team) for r in result.config.routes]
    assert names == [("orders-api", "orders"), ("search-all", "search"), ("web", None)]
    assert [c.name for c in result.config.clusters] == ["web", "orders-api", "search-v1"]


def issues(fragment: dict[str, Any], team: str = "orders") -> list[str]:
    result = merge(platform(), [FragmentInput(team, fragment, 1, f"{team}.yaml")])
    assert team not in result.teams
    return result.dropped[team]


@pytest.mark.parametrize(
    ("route", "expected"),
    [
        (
            {"match": {"path": {"prefix": "/payments"}}},
            "orders.yaml: routes[0].match: path /payments (prefix) is outside the paths "
            "delegated to team 'orders' (/orders)",
        ),
        ({"match": {"path": {"prefix": "/"}}}, "path / (prefix) is outside"),
        ({"match": {"path": {"exact": "/ordersx"}}}, "path /ordersx is outside"),
        ({"match": {"path": {"regex": "/orders(.*)"}}}, "path /orders(.*) (regex) is outside"),
        ({"name": "payments-api"}, "route 'payments-api' is outside team 'orders''s namespace"),
        ({"team": "search"}, "a route of team 'orders' cannot claim team 'search'"),
        ({"upstream": "search-v1"}, "cluster 'search-v1' belongs to team 'search'"),
        ({"upstream": "orders-apx"}, "orders.yaml: routes[0].upstream: unknown cluster"),
    ],
)
def test_overreaching_or_broken_fragments_are_refused(route: dict[str, Any], expected: str) -> None:
    base = {
        "name": "orders-api",
        "match": {"path": {"prefix": "/orders"}},
        "upstream": "orders-api",
    }
    fragment = orders([{**base, **route}])
    fragments = [FragmentInput("orders", fragment, 2, "orders.yaml")]
    if "search-v1" in str(route):
        fragments.append(FragmentInput("search", search(), 1))
    result = merge(platform(), fragments)
    found = result.dropped["orders"]
    assert any(expected in p for p in found), found
    if len(fragments) == 2:
        assert result.teams == ("search",)  # the other team is unaffected


def test_host_delegation() -> None:
    fragment = search()
    fragment["routes"][0]["match"] = {"hosts": ["evil.example.com"], "path": {"prefix": "/search"}}
    assert any("host 'evil.example.com' is outside" in p for p in issues(fragment, "search"))
    fragment["routes"][0]["match"] = {"path": {"prefix": "/search"}}
    assert any("matches every host" in p for p in issues(fragment, "search"))


def test_unknown_team_and_invalid_documents() -> None:
    result = merge(platform(), [FragmentInput("ordrs", orders(), 1)])
    assert (
        "team 'ordrs' has no delegation in the platform config (did you mean 'orders'?)"
        in (result.dropped["ordrs"][0])
    )
    assert issues({"version": 1, "routes": "nope"})[0].startswith("orders.yaml: routes:")
    assert issues({"routes": []}) == ["orders.yaml: version: required field is missing"]
    assert any(
        "clusters[0].name: cluster 'web' is outside" in p
        for p in issues(
            orders(clusters=[{"name": "web", "endpoints": [{"address": "127.0.0.1:9"}]}])
        )
    )


def test_a_bad_fragment_is_dropped_alone() -> None:
    bad = orders([{"name": "orders-x", "upstream": "nowhere"}])
    result = merge(
        platform(), [FragmentInput("orders", bad, 2), FragmentInput("search", search(), 3)]
    )
    assert result.teams == ("search",)
    assert set(result.dropped) == {"orders"}
    assert [r.name for r in result.config.routes] == ["search-all", "web"]


def test_platform_problems_still_raise() -> None:
    from zonegate.errors import ConfigError

    with pytest.raises(ConfigError):
        merge({"version": 1, "routes": [{"name": "x", "upstream": "missing"}]}, [])


def test_diff_lists_added_removed_and_changed_fields() -> None:
    old = TeamFragment.model_validate(orders())
    new_doc = orders()
    new_doc["routes"][0]["timeout_s"] = 5
    new_doc["routes"].append(
        {"name": "orders-v2", "match": {"path": {"prefix": "/orders/v2"}}, "upstream": "orders-api"}
    )
    new_doc["clusters"] = [{"name": "orders-new", "endpoints": [{"address": "127.0.0.1:4"}]}]
    changes = diff_fragments(old, TeamFragment.model_validate(new_doc))
    rendered = [c.render() for c in changes]
    assert rendered == [
        "+ cluster orders-new",
        "- cluster orders-api",
        "~ route orders-api\n    timeout_s: 15.0 -> 5.0",
        "+ route orders-v2",
    ]
    assert [c.kind for c in diff_fragments(None, old)] == ["added", "added"]
    assert diff_fragments(old, old) == []


def test_merged_config_is_a_normal_config() -> None:
    result = merge(platform(), [FragmentInput("orders", orders(), 1)])
    assert parse_config(result.document) == result.config
