"""The plan: addresses per zone, commands, health checks, the rendered gateway config."""

from __future__ import annotations

from pathlib import Path

from zonegate.cluster.plan import Features, PlanInputs, build_plan
from zonegate.cluster.spec import load_cluster_file
from zonegate.config.loader import parse_config


class FakePorts:
    def __init__(self) -> None:
        self.next = 20000
        self.calls: list[tuple[str, int]] = []

    def __call__(self, host: str, wanted: int) -> int:
        self.calls.append((host, wanted))
        if wanted:
            return wanted
        self.next += 1
        return self.next


FULL = Features(
    node_admin=True,
    node_etcd=True,
    glb=True,
    glb_flags=frozenset({"--id", "--admin", "--etcd"}),
    slo_serve=True,
)


def _plan(features: Features = FULL):
    inputs = PlanInputs(
        file=load_cluster_file(),
        run_dir=Path("/run"),
        zonegate=("zg",),
        etcd_binary="/usr/bin/etcd",
        features=features,
    )
    return build_plan(inputs, FakePorts())


def test_processes_in_dependency_order_with_zone_addresses() -> None:
    plan = _plan()
    kinds = [p.kind for p in plan.processes]
    assert kinds == sorted(kinds, key=["etcd", "backend", "node", "glb", "dashboard"].index)
    assert len(plan.by_kind("etcd")) == 3
    assert len(plan.by_kind("backend")) == 9
    assert len(plan.by_kind("node")) == 6
    assert len(plan.by_kind("glb")) == 2
    prefixes = {"eu-west-1a": "127.0.1.", "eu-west-1b": "127.0.2.", "us-east-1a": "127.0.3."}
    for process in plan.processes:
        if process.zone:
            assert process.host.startswith(prefixes[process.zone]), process
        else:
            assert process.host.startswith("127.0.0.")
    assert plan.get("eu-west-1a-2").host == "127.0.1.2"
    assert plan.get("etcd-us-east-1a").host == "127.0.3.50"
    assert plan.get("orders-eu-west-1b").host == "127.0.2.110"
    assert [g.host for g in plan.by_kind("glb")] == ["127.0.0.1", "127.0.0.2"]
    dashboard = plan.get("dashboard")
    scraped = [a for a in dashboard.argv if a.endswith("/metrics")]
    assert scraped == [f"http://{g.admin}/metrics" for g in plan.by_kind("glb")]


def test_etcd_members_form_one_cluster() -> None:
    plan = _plan()
    members = plan.by_kind("etcd")
    initial = members[0].extra["initial_cluster"]
    assert initial.count("=http://") == 3
    for member in members:
        assert f"--initial-cluster={initial}" in member.argv
        assert member.health.kind == "etcd"
    assert plan.etcd_endpoints == tuple(m.extra["client"] for m in members)


def test_node_command_uses_the_features_that_exist() -> None:
    node = _plan().get("us-east-1a-1")
    argv = list(node.argv)
    assert argv[:2] == ["zg", "node"]
    assert argv[argv.index("--zone") + 1] == "us-east-1a"
    assert argv[argv.index("--id") + 1] == "us-east-1a-1"
    assert "--admin" in argv and "--etcd" in argv
    assert node.health.url == f"http://{node.admin}/readyz"
    bare = _plan(Features()).get("us-east-1a-1")
    assert "--admin" not in bare.argv and "--etcd" not in bare.argv
    assert bare.health.kind == "tcp"
    assert _plan(Features()).by_kind("glb") == []


def test_rendered_gateway_has_endpoints_zones_regions_and_validates() -> None:
    plan = _plan()
    doc = plan.gateway
    config = parse_config(doc)
    orders = config.cluster_by_name("orders")
    assert {e.zone for e in orders.endpoints} == {"eu-west-1a", "eu-west-1b", "us-east-1a"}
    assert {e.address for e in orders.endpoints} == {
        p.address for p in plan.by_kind("backend") if p.service == "orders"
    }
    assert [z.name for z in config.zones] == ["eu-west-1a", "eu-west-1b", "us-east-1a"]
    us = next(z for z in config.zones if z.name == "us-east-1a")
    assert [n.id for n in us.static_nodes] == ["us-east-1a-1", "us-east-1a-2"]
    assert config.zone_preference("us-east-1")[0] == "us-east-1a"
    assert config.zone_preference("eu-west-1")[:2] == ["eu-west-1a", "eu-west-1b"]
    assert config.glb.default_region == "eu-west-1"
    regions = {r.name: r.cidrs for r in config.regions}
    assert regions["us-east-1"] == ["127.0.3.0/24"]


def test_phases_group_kinds_that_start_together() -> None:
    from zonegate.cluster.process import ManagedProcess
    from zonegate.cluster.supervisor import phase_title, phases

    plan = _plan()
    groups = phases(ManagedProcess(p, Path("/logs")) for p in reversed(plan.processes))
    assert [phase_title(g) for g in groups] == [
        "etcd",
        "demo backends",
        "gateway nodes",
        "GLB + SLO dashboard",
    ]
    assert [len(g) for g in groups] == [3, 9, 6, 3]
