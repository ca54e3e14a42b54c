"""Composition planning: dependency order, cycles, templates."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from zonegate.config.aggregate import Aggregate, AggregateCall
from zonegate.node.compose.graph import CycleError, template_references, topological_order
from zonegate.node.compose.plan import PlanError, plan_aggregate
from zonegate.node.compose.template import Inputs, PathTemplate, TemplateError

REGEX = r"^/users/(?P<id>[^/]+)/summary$"


def _agg(*calls: dict[str, Any], merge: str = "keys") -> Aggregate:
    return Aggregate.model_validate({"calls": list(calls), "merge": merge})


def test_dependencies_ordered_independent_kept_in_place() -> None:
    agg = _agg(
        {"name": "orders", "cluster": "orders", "path": "/orders?user={user.id}&org={org.id}"},
        {"name": "org", "cluster": "orgs", "path": "/orgs/{user.org_id}"},
        {"name": "user", "cluster": "users", "path": "/users/{path.id}"},
        {"name": "ads", "cluster": "ads", "path": "/ads", "required": False},
    )
    plan = plan_aggregate(agg, REGEX)
    order = [c.name for c in plan.calls]
    assert order.index("user") < order.index("org") < order.index("orders")
    assert set(order) == {"orders", "org", "user", "ads"}
    assert plan.call("orders").dependencies == ("user", "org")
    assert plan.call("ads").dependencies == () and not plan.call("ads").required
    assert plan.path_params == {"id"} and plan.query_params == frozenset()
    assert plan.output_order == ("orders", "org", "user", "ads")


def test_explicit_depends_on_orders_calls() -> None:
    plan = plan_aggregate(
        _agg(
            {"name": "b", "cluster": "c", "path": "/b", "depends_on": ["a"]},
            {"name": "a", "cluster": "c", "path": "/a"},
        )
    )
    assert [c.name for c in plan.calls] == ["a", "b"]


@pytest.mark.parametrize(
    ("calls", "message"),
    [
        (
            [
                {"name": "a", "cluster": "c", "path": "/a/{b.x}"},
                {"name": "b", "cluster": "c", "path": "/b/{a.x}"},
            ],
            "cycle: a -> b -> a",
        ),
        (
            [
                {"name": "a", "cluster": "c", "path": "/a/{c.x}"},
                {"name": "b", "cluster": "c", "path": "/b/{a.x}"},
                {"name": "c", "cluster": "c", "path": "/c", "depends_on": ["b"]},
            ],
            "cycle",
        ),
        ([{"name": "a", "cluster": "c", "path": "/a/{a.x}"}], "depends on itself"),
        ([{"name": "a", "cluster": "c", "path": "/a/{nope.x}"}], "unknown call 'nope'"),
        (
            [
                {"name": "a", "cluster": "c", "path": "/a", "required": False},
                {"name": "b", "cluster": "c", "path": "/b/{a.id}"},
            ],
            "required call 'b' depends on optional call 'a'",
        ),
        (
            [
                {"name": "a", "cluster": "c", "path": "/a"},
                {"name": "a", "cluster": "c", "path": "/b"},
            ],
            "unique",
        ),
        ([{"name": "a", "cluster": "c", "path": "/a/{x}"}], "source.field"),
        ([{"name": "a", "cluster": "c", "path": "/a/{path.id"}], "unbalanced"),
        ([{"name": "a", "cluster": "c", "path": "a"}], "start with '/'"),
    ],
)
def test_config_rejects_bad_graphs(calls: list[dict[str, Any]], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Aggregate.model_validate({"calls": calls})


def test_planner_rejects_cycles_on_its_own() -> None:
    """Defence in depth: the planner does not rely on config validation having run."""
    agg = Aggregate.model_construct(
        calls=[
            AggregateCall.model_construct(
                name="a",
                cluster="c",
                path="/a/{b.x}",
                timeout_s=1.0,
                required=True,
                key=None,
                include=True,
                depends_on=[],
            ),
            AggregateCall.model_construct(
                name="b",
                cluster="c",
                path="/b/{a.x}",
                timeout_s=1.0,
                required=True,
                key=None,
                include=True,
                depends_on=[],
            ),
        ],
        merge="keys",
        forward_headers=None,
    )
    with pytest.raises(PlanError, match="cycle"):
        plan_aggregate(agg)


def test_path_params_must_be_regex_groups() -> None:
    agg = _agg({"name": "u", "cluster": "c", "path": "/users/{path.uid}"})
    with pytest.raises(PlanError, match="'uid' is not a named group"):
        plan_aggregate(agg, REGEX)
    with pytest.raises(PlanError, match="named group"):
        plan_aggregate(agg, None)


def test_topological_order_reports_the_cycle() -> None:
    with pytest.raises(CycleError) as info:
        topological_order({"x": ["y"], "y": ["z"], "z": ["y"]})
    assert info.value.cycle == ["y", "z", "y"]
    assert topological_order({"a": [], "b": ["a"], "c": []}) == ["a", "b", "c"]


def test_template_references() -> None:
    assert template_references("/u/{path.id}/o?x={user.items.0.id}") == [
        ("path", ("id",)),
        ("user", ("items", "0", "id")),
    ]


def test_template_renders_and_encodes() -> None:
    t = PathTemplate("/users/{path.id}/orders?limit={query.limit}&org={user.org.name}")
    inputs = Inputs({"id": "a b/c"}, {"limit": "10&x=1"}, {"user": {"org": {"name": "Acme?"}}})
    assert t.render(inputs) == "/users/a%20b%2Fc/orders?limit=10%26x%3D1&org=Acme%3F"
    numbers = PathTemplate("/n/{u.n}/{u.f}/{u.b}/{u.items.1}")
    rendered = numbers.render(Inputs({}, {}, {"u": {"n": 7, "f": 1.5, "b": True, "items": [0, 9]}}))
    assert rendered == "/n/7/1.5/true/9"


@pytest.mark.parametrize(
    ("results", "message", "client"),
    [
        ({"u": {}}, "field u.id is missing", False),
        ({"u": {"id": None}}, "not a string or number", False),
        ({"u": {"id": {"x": 1}}}, "not a string or number", False),
        ({"u": {"id": ".."}}, "usable path segment", False),
        ({"u": {"id": ""}}, "usable path segment", False),
        ({}, "has no result", False),
    ],
)
def test_template_errors(results: dict[str, Any], message: str, client: bool) -> None:
    with pytest.raises(TemplateError, match=message) as info:
        PathTemplate("/x/{u.id}").render(Inputs({}, {}, results))
    assert info.value.client is client


def test_missing_query_is_a_client_error() -> None:
    with pytest.raises(TemplateError) as info:
        PathTemplate("/x?l={query.limit}").render(Inputs({}, {}))
    assert info.value.client
