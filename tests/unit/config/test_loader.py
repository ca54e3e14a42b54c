"""Config files: every problem reported with its path, never a half-valid config."""

from __future__ import annotations

from pathlib import Path

import pytest

from zonegate.config.loader import config_schema, format_loc, load_config, parse_config_text
from zonegate.errors import ConfigError

GOOD = """
version: 1
clusters:
  - name: orders
    endpoints: [{address: "127.0.0.1:9000", zone: a}]
routes:
  - name: orders
    upstream: orders
"""


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config_text(text)
    return info.value.problems


def test_good_config() -> None:
    config = parse_config_text(GOOD)
    assert config.routes[0].upstream == "orders"


def test_every_problem_with_its_path_and_a_suggestion() -> None:
    found = problems(
        """
version: 1
clusters:
  - name: orders
    endpoints: [{address: "127.0.0.1:9000"}]
  - name: bad
    endpoints: [{address: "nope"}]
routes:
  - {name: r1, upstream: orders, match: {path: {prefix: /x, exact: /y}}}
  - {name: r2, upstream: orders}
  - {name: r3, upstream: ordres, bogus: 1}
"""
    )
    assert found == [
        "clusters[1].endpoints[0].address: address must be host:port, got 'nope'",
        "routes[0].match.path: path match needs exactly one of exact, prefix, regex",
        "routes[2].bogus: unknown field",
        "routes[2].upstream: unknown cluster 'ordres' (did you mean 'orders'?)",
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("version: 2\n", "version: Input should be 1"),
        ("- a\n- b\n", "(top level): expected a mapping, got list"),
        (
            "version: 1\nroutes: [{name: r}]\n",
            "routes[0]: a route needs an upstream cluster or an aggregate",
        ),
        (
            "version: 1\nclusters: [{name: c}]\n",
            "clusters[0]: a cluster needs endpoints or a service name",
        ),
        ("version: [1\n", "not valid YAML at line 2"),
        (
            "version: 1\nzones: [{name: a, region: r}]\nregions: [{name: r, zones: [b]}]\n",
            "regions[0].zones[0]: unknown zone 'b'",
        ),
        (
            "version: 1\nroutes: [{name: r, upstream: x, match: {path: {regex: '(['}}}]\n"
            "clusters: [{name: x, endpoints: [{address: 'h:1'}]}]\n",
            "invalid regular expression",
        ),
    ],
)
def test_clear_messages(text: str, expected: str) -> None:
    assert any(expected in p for p in problems(text)), problems(text)


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "missing.yaml")
    assert "cannot read" in info.value.problems[0]
    binary = tmp_path / "bin.yaml"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ConfigError) as info:
        load_config(binary)
    assert "not UTF-8" in info.value.problems[0]


def test_format_loc() -> None:
    assert format_loc(("routes", 2, "upstream")) == "routes[2].upstream"
    assert format_loc(()) == "(top level)"


def test_schema_describes_the_format() -> None:
    schema = config_schema()
    assert schema["title"] == "zonegate cluster config"
    assert {"version", "clusters", "routes", "zones"} <= set(schema["properties"])
