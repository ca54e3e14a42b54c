"""Experiment files: every problem is reported with its step and field; parameters fill in."""

from __future__ import annotations

import json

import pytest

from zonegate.chaos.drills import all_builtin, builtin, builtin_names, find_drill
from zonegate.chaos.errors import ExperimentError, UnknownDrillError
from zonegate.chaos.params import parse_overrides, resolve_dynamic, resolve_parameters
from zonegate.chaos.spec import experiment_schema, parse_experiment_text, render
from zonegate.chaos.spec.actions import KillAction

BUILTIN = {
    "node-crash",
    "zone-outage",
    "zone-evacuation",
    "rolling-restart",
    "etcd-leader-loss",
    "etcd-outage",
    "backend-latency",
    "cross-zone-latency",
    "flapping-zone",
}


def problems(text: str) -> list[str]:
    with pytest.raises(ExperimentError) as caught:
        parse_experiment_text(text, "test.yaml")
    return caught.value.problems


def test_every_builtin_drill_is_valid_and_listed() -> None:
    assert set(builtin_names()) == BUILTIN
    for drill in all_builtin():
        assert drill.experiment.title
        assert drill.experiment.rollbacks, f"{drill.name} has no rollback"
        assert drill.experiment.guards, f"{drill.name} has no guard"
        assert drill.source == f"builtin:{drill.name}"


def test_unknown_drill_names_the_builtin_ones() -> None:
    with pytest.raises(UnknownDrillError, match="zone-outage"):
        builtin("zone-outtage")


def test_find_drill_reads_a_file(tmp_path) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text("title: mine\nmethod:\n  - action: {kind: wait, seconds: 1}\n")
    drill = find_drill(str(path))
    assert drill.name == "mine"
    assert drill.experiment.method[0].kind == "wait"


def test_errors_name_the_step_and_the_field() -> None:
    found = problems(
        """
title: t
parameters: {zone: a}
method:
  - name: kill the zone
    action: {kind: kill}
  - name: slow link
    action: {kind: toxic_add, link: "glb:${zone}", type: latency, attributes: {latency: -5}}
  - action: {kind: kil, target: x}
  - name: both
    action: {kind: wait, seconds: 1}
    probe: {kind: error_rate}
  - name: typo
    action: {kind: wait, seconds: 1, sceonds: 2}
guards:
  - {kind: error_rate}
"""
    )
    assert "method[0] (kill the zone): action.kill.target: required field is missing" in found
    assert any(
        p.startswith("method[1] (slow link): action.toxic_add:")
        and "latency" in p
        and "greater than or equal to 0" in p
        for p in found
    ), found
    assert any(p.startswith("method[2] (kil): action: unknown kind 'kil'") for p in found), found
    assert "method[3] (both): a step has exactly one of action: or probe:" in found
    assert "method[4] (typo): action.wait.sceonds: unknown field" in found
    assert "guards[0] (error_rate): error_rate.max: required field is missing" in found


def test_unknown_toxic_attribute_is_named() -> None:
    found = problems(
        """
title: t
method:
  - name: bad toxic
    action: {kind: toxic_add, link: "glb:a", type: bandwidth, attributes: {speed: 5}}
"""
    )
    assert len(found) == 1
    assert found[0].startswith("method[0] (bad toxic): action.toxic_add:")
    assert "speed" in found[0] and "unknown attribute" in found[0]


def test_rollbacks_are_actions_only_and_unknown_parameters_are_refused() -> None:
    found = problems(
        """
title: t
method:
  - action: {kind: wait, seconds: 1}
rollbacks:
  - name: look
    probe: {kind: error_rate}
"""
    )
    assert any("rollbacks[0] (look): rollbacks are actions only" in p for p in found), found
    found = problems(
        """
title: t
parameters: {zone: a}
method:
  - name: kill
    action: {kind: kill, target: "${zonee}"}
"""
    )
    assert found == [
        "method[0] (kill): action.target: unknown parameter ${zonee} "
        "(declared: zone; built in: glb, glb_admin, slo, toxiproxy)"
    ]


def test_empty_method_bad_yaml_and_top_level_shape() -> None:
    assert problems("title: t\nmethod: []\n") == [
        "method: List should have at least 1 item after validation, not 0"
    ]
    bad = problems("title: t\nmethod: [\n")
    assert len(bad) == 1 and bad[0].startswith("test.yaml: not valid YAML at line")
    assert problems("- 1\n- 2\n") == ["test.yaml: expected a mapping with title:, method: ..."]


def test_load_rate_bound_and_probe_range() -> None:
    found = problems(
        """
title: t
load: {users: 1000, rate_per_user: 100}
method:
  - name: share
    probe: {kind: traffic_share, zone: a, tolerance: {min: 0.9, max: 0.1}}
"""
    )
    assert any(p.startswith("load:") and "more than one locust" in p for p in found), found
    assert any(
        p.startswith("method[0] (share): probe.traffic_share.tolerance:") and "above max" in p
        for p in found
    ), found


def test_models_are_frozen() -> None:
    experiment = builtin("node-crash").experiment
    with pytest.raises(ValueError):
        experiment.title = "x"  # type: ignore[misc]


def test_schema_is_exported_with_the_discriminated_unions() -> None:
    schema = experiment_schema()
    text = json.dumps(schema)
    assert schema["title"] == "zonegate drill experiment"
    for kind in ("kill", "etcd_kill_leader", "toxic_add", "backend_fault", "rolling_restart"):
        assert f'"const": "{kind}"' in text
    assert '"discriminator"' in text
    assert schema["additionalProperties"] is False


def test_render_fills_parameters_and_builtin_values() -> None:
    experiment = parse_experiment_text(
        """
title: t
parameters: {zone: a}
load: {host: "${glb}"}
method:
  - name: kill ${zone}
    action: {kind: kill, target: "${zone}"}
"""
    )
    rendered = render(experiment, {"zone": "eu-west-1b", "glb": "http://127.0.0.1:9"})
    assert rendered.load.host == "http://127.0.0.1:9"
    step = rendered.method[0]
    assert step.label == "kill eu-west-1b"
    assert isinstance(step.action, KillAction)
    assert step.action.target == "eu-west-1b"
    with pytest.raises(ExperimentError, match=r"no value for \$\{glb\}"):
        render(experiment, {"zone": "x"})


STATUS = {
    "zones": {
        "eu-a": {"nodes": [{"id": "eu-a-2", "healthy": True}, {"id": "eu-a-1", "healthy": True}]},
        "eu-b": {"nodes": [{"id": "eu-b-1", "healthy": True}]},
        "us-a": {"nodes": [{"id": "us-a-1", "healthy": True}]},
    },
    "routing": {
        "eu": {"preference": ["eu-a", "eu-b", "us-a"], "shares": {"eu-a": 1.0}},
        "us": {"preference": ["us-a", "eu-a", "eu-b"], "shares": {"us-a": 0.7, "eu-a": 0.3}},
    },
}


@pytest.mark.parametrize(
    ("value", "region", "expected"),
    [
        ("@primary_zone", None, "eu-a"),
        ("@secondary_zone", None, "eu-b"),
        ("@primary_node", None, "eu-a-1"),
        ("@primary_zone", "us", "us-a"),
        ("@secondary_zone", "us", "eu-a"),
        ("eu-b", None, "eu-b"),
    ],
)
def test_dynamic_parameters_come_from_the_glb(value, region, expected) -> None:
    assert resolve_dynamic(value, STATUS, region) == expected


def test_parameter_overrides() -> None:
    assert parse_overrides(["zone=us-a", "x=a=b"]) == {"zone": "us-a", "x": "a=b"}
    with pytest.raises(ExperimentError, match="NAME=VALUE"):
        parse_overrides(["zone"])
    declared = {"zone": "@primary_zone"}
    assert resolve_parameters(declared, {"zone": "eu-b"}, None, None) == {"zone": "eu-b"}
    assert resolve_parameters(declared, {}, STATUS, None) == {"zone": "eu-a"}
    with pytest.raises(ExperimentError, match="no such parameter"):
        resolve_parameters(declared, {"node": "x"}, STATUS, None)
    with pytest.raises(ExperimentError, match="needs a GLB"):
        resolve_parameters(declared, {}, None, None)
