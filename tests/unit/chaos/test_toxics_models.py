"""Parsing Toxiproxy JSON into typed proxies and toxics: defaults, errors, status codes."""

from __future__ import annotations

import pytest

from zonegate.chaos.faultproxy.errors import BadRequest, Conflict, NotFound
from zonegate.chaos.faultproxy.models import (
    TOXIC_TYPES,
    LatencyAttributes,
    ProxySpec,
    Stream,
    ToxicSpec,
    parse_populate,
    parse_proxy,
    parse_proxy_update,
    parse_toxic,
    parse_toxic_update,
)
from zonegate.chaos.faultproxy.toxicset import ToxicSet


def test_toxic_defaults_are_toxiproxys() -> None:
    toxic = parse_toxic({"type": "latency"})
    assert toxic.stream is Stream.DOWNSTREAM
    assert toxic.toxicity == 1.0
    assert toxic.name == "latency_downstream"
    assert toxic.to_json() == {
        "name": "latency_downstream",
        "type": "latency",
        "stream": "downstream",
        "toxicity": 1.0,
        "attributes": {"latency": 0, "jitter": 0},
    }


def test_toxic_full_body() -> None:
    toxic = parse_toxic(
        {
            "name": "slow",
            "type": "bandwidth",
            "stream": "upstream",
            "toxicity": 0.5,
            "attributes": {"rate": 100},
        }
    )
    assert (toxic.name, toxic.type, toxic.stream, toxic.toxicity) == (
        "slow",
        "bandwidth",
        Stream.UPSTREAM,
        0.5,
    )
    assert toxic.to_json()["attributes"] == {"rate": 100}


@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [
        ([], 400, "bad request body: expected a JSON object"),
        ({"type": "latency", "stream": "sideways"}, 400, "stream was invalid"),
        ({"type": "nope"}, 400, "invalid toxic type: 'nope'"),
        ({}, 400, "invalid toxic type"),
        ({"type": "latency", "toxicity": 1.5}, 400, "toxicity must be between 0 and 1"),
        ({"type": "latency", "toxicity": True}, 400, "toxicity must be a number"),
        ({"type": "latency", "attributes": {"latancy": 5}}, 400, "latancy: unknown attribute"),
        ({"type": "latency", "attributes": {"latency": -1}}, 400, "latency: Input should be"),
        ({"type": "latency", "attributes": {"latency": "5"}}, 400, "valid integer"),
        ({"type": "latency", "attributes": {"latency": 1.5}}, 400, "valid integer"),
        ({"type": "latency", "attributes": {"latency": True}}, 400, "valid integer"),
        ({"type": "latency", "attributes": [1]}, 400, "attributes must be a JSON object"),
        ({"type": "slicer", "attributes": {}}, 400, "average_size"),
        (
            {"type": "slicer", "attributes": {"average_size": 10, "size_variation": 10}},
            400,
            "size_variation (10) must be smaller than average_size (10)",
        ),
        ({"type": "latency", "atributes": {}}, 400, "unknown field(s) 'atributes'"),
    ],
)
def test_bad_toxic_bodies(body: object, status: int, fragment: str) -> None:
    with pytest.raises(BadRequest) as caught:
        parse_toxic(body)
    assert caught.value.status == status
    assert fragment in caught.value.message


def test_duplicate_name_is_409_before_attribute_checks() -> None:
    with pytest.raises(Conflict) as caught:
        parse_toxic({"type": "latency", "attributes": {"latency": -1}}, {"latency_downstream"})
    assert caught.value.status == 409
    assert caught.value.to_json() == {"error": "toxic already exists", "status": 409}


@pytest.mark.parametrize("toxic_type", TOXIC_TYPES)
def test_every_type_builds_with_attributes(toxic_type: str) -> None:
    attributes = {"slicer": {"average_size": 8, "size_variation": 2, "delay": 10}}.get(
        toxic_type, {}
    )
    toxic = ToxicSpec.build(toxic_type, attributes, stream="upstream")
    assert toxic.name == f"{toxic_type}_upstream"


def test_update_merges_attributes_and_keeps_identity() -> None:
    current = ToxicSpec.build("latency", {"latency": 100, "jitter": 10})
    updated = parse_toxic_update(current, {"attributes": {"latency": 300}})
    assert updated.attributes == LatencyAttributes(latency=300, jitter=10)
    assert updated.toxicity == 1.0
    assert parse_toxic_update(current, {"toxicity": 0.25}).toxicity == 0.25
    same = parse_toxic_update(current, {"name": current.name, "type": "latency"})
    assert same == current
    with pytest.raises(BadRequest, match="type cannot change"):
        parse_toxic_update(current, {"type": "timeout"})
    with pytest.raises(BadRequest, match="stream cannot change"):
        parse_toxic_update(current, {"stream": "upstream"})
    with pytest.raises(BadRequest, match="latency"):
        parse_toxic_update(current, {"attributes": {"latency": -5}})


def test_proxy_defaults_and_errors() -> None:
    spec = parse_proxy({"name": "db", "upstream": "127.0.0.1:5432"})
    assert spec == ProxySpec("db", "127.0.0.1:0", "127.0.0.1:5432", True)
    assert parse_proxy({"name": "v6", "upstream": "[::1]:80", "listen": "[::1]:0"}).listen == (
        "[::1]:0"
    )
    # The Go client sends "toxics" with the proxy: accepted and ignored.
    assert (
        parse_proxy({"name": "a", "upstream": "h:1", "toxics": None, "enabled": False}).enabled
        is False
    )
    cases = [
        ({"upstream": "h:1"}, "missing required field: name"),
        ({"name": "a"}, "missing required field: upstream"),
        ({"name": "a", "upstream": "nohost"}, "has no port"),
        ({"name": "a", "upstream": "h:0"}, "port 0 is not a valid upstream port"),
        ({"name": "a", "upstream": "h:99999"}, "not a number in 0..65535"),
        ({"name": "a", "upstream": "::1:80"}, "IPv6 hosts need brackets"),
        ({"name": "a", "upstream": "h:1", "enabled": "yes"}, "enabled must be true or false"),
        ({"name": "a/b", "upstream": "h:1"}, "must not contain '/'"),
        ({"name": "a", "upstream": "h:1", "listn": "x"}, "unknown field(s) 'listn'"),
    ]
    for body, fragment in cases:
        with pytest.raises(BadRequest) as caught:
            parse_proxy(body)
        assert fragment in caught.value.message, body


def test_proxy_update_keeps_omitted_fields() -> None:
    current = ProxySpec("db", "127.0.0.1:4000", "127.0.0.1:5432", True)
    assert parse_proxy_update(current, {"enabled": False}) == ProxySpec(
        "db", "127.0.0.1:4000", "127.0.0.1:5432", False
    )
    assert parse_proxy_update(current, {"upstream": "127.0.0.1:6000"}).upstream == (
        "127.0.0.1:6000"
    )
    with pytest.raises(BadRequest, match="delete it and create it again"):
        parse_proxy_update(current, {"name": "other"})


def test_populate_validates_everything_first() -> None:
    specs = parse_populate(
        [{"name": "a", "upstream": "h:1"}, {"name": "b", "upstream": "h:2", "enabled": False}]
    )
    assert [s.name for s in specs] == ["a", "b"]
    with pytest.raises(BadRequest, match="upstream at proxy 2"):
        parse_populate([{"name": "a", "upstream": "h:1"}, {"name": "b"}])
    with pytest.raises(BadRequest, match="duplicate proxy name 'a' at proxy 2"):
        parse_populate([{"name": "a", "upstream": "h:1"}, {"name": "a", "upstream": "h:1"}])
    with pytest.raises(BadRequest, match="expected a JSON array"):
        parse_populate({"name": "a"})


def test_toxic_set_orders_upstream_first_and_checks_names() -> None:
    toxics = ToxicSet()
    down = ToxicSpec.build("latency", {"latency": 1})
    up = ToxicSpec.build("timeout", stream="upstream")
    toxics.add(down)
    toxics.add(up)
    assert [t.name for t in toxics] == ["timeout_upstream", "latency_downstream"]
    assert "latency_downstream" in toxics
    with pytest.raises(Conflict):
        toxics.add(ToxicSpec.build("bandwidth", name="latency_downstream"))
    with pytest.raises(NotFound) as caught:
        toxics.get("missing")
    assert caught.value.to_json() == {"error": "toxic not found", "status": 404}
    toxics.replace(parse_toxic_update(down, {"attributes": {"latency": 9}}))
    assert toxics.get("latency_downstream").to_json()["attributes"]["latency"] == 9
    assert toxics.remove("timeout_upstream") == up
    assert [t.name for t in toxics.clear()] == ["latency_downstream"]
    assert len(toxics) == 0
