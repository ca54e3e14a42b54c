"""Fault proxies placed on the links of the default local cluster plan (pure)."""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path

from zonegate.chaos.faultproxy.models import parse_populate
from zonegate.chaos.links import apply, place_fault_proxies
from zonegate.chaos.links_spec import FaultProxies
from zonegate.chaos.toxiproxy_client import link_members
from zonegate.cluster.plan import KINDS, Features, PlanInputs, build_plan
from zonegate.cluster.spec import load_cluster_file, parse_cluster_file
from zonegate.config.loader import parse_config

FULL = Features(
    node_admin=True,
    node_etcd=True,
    glb=True,
    glb_flags=frozenset({"--id", "--admin", "--etcd"}),
)
ZONE_NETS = {
    "eu-west-1a": ipaddress.IPv4Network("127.0.1.0/24"),
    "eu-west-1b": ipaddress.IPv4Network("127.0.2.0/24"),
    "us-east-1a": ipaddress.IPv4Network("127.0.3.0/24"),
}


class Ports:
    def __init__(self) -> None:
        self.next = 30000

    def __call__(self, host: str, wanted: int) -> int:
        if wanted:
            return wanted
        self.next += 1
        return self.next


def plan_and_proxies(links: list[str] | None = None):
    file = load_cluster_file()
    ports = Ports()
    plan = build_plan(PlanInputs(file, Path("/run"), ("zg",), "/usr/bin/etcd", FULL), ports)
    spec = FaultProxies(enabled=True) if links is None else FaultProxies(enabled=True, links=links)
    new, proxies = place_fault_proxies(plan, file, Path("/run"), ports, spec)
    return plan, new, proxies


def flag(argv: tuple[str, ...], name: str) -> str | None:
    return argv[argv.index(name) + 1] if name in argv else None


def test_every_path_goes_through_a_proxy_of_its_zone() -> None:
    before, plan, proxies = plan_and_proxies()
    parse_populate(proxies)  # what `zonegate toxiproxy --config` will read
    names = [p["name"] for p in proxies]
    assert len(names) == len(set(names))
    by_name = {p["name"]: p for p in proxies}
    # GLB -> nodes: traffic and admin (health checks), static nodes, no etcd discovery.
    for node in before.by_kind("node"):
        data = by_name[f"glb:{node.zone}:{node.name}"]
        admin = by_name[f"glb:{node.zone}:{node.name}:admin"]
        assert data["upstream"] == node.address and admin["upstream"] == node.admin
        for listen in (data["listen"], admin["listen"]):
            host = ipaddress.IPv4Address(listen.rsplit(":", 1)[0])
            assert host in ZONE_NETS[node.zone]
            assert int(host) - int(ZONE_NETS[node.zone].network_address) >= 150
    zones = {z["name"]: z for z in plan.gateway["zones"]}
    for node in before.by_kind("node"):
        static = {s["id"]: s for s in zones[node.zone]["static_nodes"]}[node.name]
        assert static["address"] == by_name[f"glb:{node.zone}:{node.name}"]["listen"]
        assert static["admin"] == by_name[f"glb:{node.zone}:{node.name}:admin"]["listen"]
    for glb in plan.by_kind("glb"):
        assert "--etcd" not in glb.argv
    # Nodes -> etcd: each zone through its own proxies to every member.
    members = {m.extra["client"] for m in before.by_kind("etcd")}
    for node in plan.by_kind("node"):
        endpoints = (flag(node.argv, "--etcd") or "").split(",")
        upstreams = {by_name[f"etcd:{node.zone}:etcd-{z}"]["upstream"] for z in ZONE_NETS}
        assert upstreams == members
        assert sorted(endpoints) == sorted(
            by_name[f"etcd:{node.zone}:etcd-{z}"]["listen"] for z in ZONE_NETS
        )
    # Nodes -> backends: proxied static endpoints instead of discovery.
    for cluster in plan.gateway["clusters"]:
        assert "service" not in cluster
        for endpoint in cluster["endpoints"]:
            proxy = next(p for p in proxies if p["listen"] == endpoint["address"])
            assert proxy["name"].startswith(f"backends:{endpoint['zone']}:")
    parse_config(plan.gateway)
    api = plan.get("toxiproxy")
    assert api.kind == "faultproxy" and KINDS.index("faultproxy") < KINDS.index("node")
    assert flag(api.argv, "--config") == "/run/faultproxy-config.json"
    assert api.health.url == f"http://{api.host}:{api.port}/version"
    assert len(plan.processes) == len(before.processes) + 1


def test_only_the_chosen_links() -> None:
    before, plan, proxies = plan_and_proxies(["etcd"])
    assert {p["name"].split(":")[0] for p in proxies} == {"etcd"}
    assert plan.gateway["zones"] == before.gateway["zones"]
    assert plan.gateway["clusters"] == before.gateway["clusters"]
    assert all("--etcd" in g.argv for g in plan.by_kind("glb"))


def test_links_name_their_proxies() -> None:
    _, _, proxies = plan_and_proxies()
    names = [p["name"] for p in proxies]
    glb_a = link_members(names, "glb:eu-west-1a")
    assert glb_a == sorted(
        [f"glb:eu-west-1a:eu-west-1a-{i}" for i in (1, 2)]
        + [f"glb:eu-west-1a:eu-west-1a-{i}:admin" for i in (1, 2)]
    )
    assert link_members(names, "glb:eu-west-1") == []
    assert len(link_members(names, "etcd:us-east-1a")) == 3
    assert link_members(names, "backends:eu-west-1b:catalog-eu-west-1b") == [
        "backends:eu-west-1b:catalog-eu-west-1b"
    ]


def test_off_by_default_and_written_when_on(tmp_path) -> None:
    file = load_cluster_file()
    plan = build_plan(PlanInputs(file, tmp_path, ("zg",), "etcd", FULL), Ports())
    assert apply(plan, file, tmp_path, Ports()) is plan
    data = json.loads(json.dumps(file.model_dump(mode="json")))
    data["local"]["fault_proxies"] = {"enabled": True, "links": ["glb"]}
    enabled = parse_cluster_file(data)
    new = apply(plan, enabled, tmp_path, Ports())
    assert new is not plan
    state = json.loads((tmp_path / "faultproxy.json").read_text())
    assert state["api"] == new.get("toxiproxy").url
    written = json.loads((tmp_path / "faultproxy-config.json").read_text())
    assert [p["name"] for p in written] == state["proxies"]
