"""The cluster file: the built-in default, the example copy, and clear problems."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from zonegate.cluster.errors import ClusterSpecError
from zonegate.cluster.spec import default_cluster_text, load_cluster_file, parse_cluster_file

ROOT = Path(__file__).resolve().parents[3]


def _default() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(default_cluster_text())
    return data


def test_default_cluster_is_three_zones_in_two_regions() -> None:
    file = load_cluster_file()
    assert [z.name for z in file.local.zones] == ["eu-west-1a", "eu-west-1b", "us-east-1a"]
    assert file.local.regions == ["eu-west-1", "us-east-1"]
    assert file.local.nodes.per_zone == 2
    assert file.local.glb.replicas == 2
    assert file.local.etcd.enabled
    assert {b.service for b in file.local.backends} == {"catalog", "orders", "users"}
    assert file.gateway_config().cluster == "local"


def test_example_file_is_the_built_in_default() -> None:
    example = (ROOT / "examples" / "cluster.yaml").read_text()
    assert example == default_cluster_text()


def _problems(data: dict[str, Any]) -> list[str]:
    with pytest.raises(ClusterSpecError) as caught:
        parse_cluster_file(data)
    return caught.value.problems


def test_zone_ranges_must_be_loopback_and_distinct() -> None:
    data = _default()
    data["local"]["zones"][1]["addresses"] = "10.0.0.0/24"
    assert any("not on loopback" in p for p in _problems(data))
    data = _default()
    data["local"]["zones"][1]["addresses"] = "127.0.1.0/24"
    assert any("overlap" in p for p in _problems(data))


def test_unknown_fields_and_bad_gateway_are_reported_with_paths() -> None:
    data = _default()
    data["local"]["nodes"]["per_zone"] = 0
    data["local"]["nodez"] = 1
    problems = _problems(data)
    assert "local.nodes.per_zone: Input should be greater than or equal to 1" in problems
    assert "local.nodez: unknown field" in problems
    data = _default()
    data["gateway"]["routes"][0]["upstream"] = "catalogue"
    problems = _problems(data)
    assert any(
        p.startswith("gateway.routes[0].upstream: unknown cluster 'catalogue'") for p in problems
    )


def test_cluster_naming_a_service_that_is_not_a_demo_backend() -> None:
    data = _default()
    data["local"]["backends"] = [{"service": "catalog"}]
    problems = _problems(data)
    assert any("gateway.clusters[1].service: 'orders' is not a demo backend" in p for p in problems)


def test_unreadable_and_invalid_yaml(tmp_path: Path) -> None:
    with pytest.raises(ClusterSpecError, match="cannot read"):
        load_cluster_file(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("local: [\n")
    with pytest.raises(ClusterSpecError, match="not valid YAML at line"):
        load_cluster_file(bad)
