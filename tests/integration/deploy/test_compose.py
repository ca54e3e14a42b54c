"""docker-compose.yml: Compose accepts it, and what it runs and mounts is real.

The file is rendered by Debian's docker-compose (1.29) offline; every zonegate
command is parsed by zonegate's own argument parser, every mounted config file is
validated by the component that reads it.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from tests.integration.deploy.conftest import (
    ROOT,
    bind_mounts,
    container_file,
    parse_cli,
    run,
    tool,
    zonegate_services,
)
from zonegate.chaos.faultproxy.server import load_config_file
from zonegate.chaos.toxiproxy_client import link_members
from zonegate.config.loader import load_config
from zonegate.config.model import ClusterConfig

ZONES = ("eu-west-1a", "eu-west-1b", "us-east-1a")
ETCD_IMAGE = re.compile(r"^gcr\.io/etcd-development/etcd:v3\.5\.(\d+)$")
#: Images with no shell and no HTTP client inside: Compose cannot health-check them, so
#: what depends on them waits for service_started (and they retry their peers).
NO_HEALTHCHECK = {
    "otel-collector": "scratch image, no shell or HTTP client",
    "jaeger": "distroless image, no shell or HTTP client",
    "locust": "load generator started last; nothing depends on it",
}


def command_of(service: Mapping[str, Any]) -> list[str]:
    command = service.get("command")
    assert isinstance(command, list), "zonegate services use the exec form of command"
    return [str(part) for part in command]


def config_paths(args: argparse.Namespace) -> list[str]:
    """The cluster config files a parsed zonegate command reads."""
    if args.command in ("node", "glb"):
        return [args.config]
    if args.command == "config":
        return [args.file]
    return []


def cluster_config(compose: Mapping[str, Any], service_name: str) -> ClusterConfig:
    service = compose["services"][service_name]
    args = parse_cli(command_of(service))
    [path] = config_paths(args)
    host_file = container_file(service, path)
    assert host_file is not None, f"{service_name}: {path} is not mounted"
    return load_config(host_file)


def test_every_zonegate_command_is_a_real_cli_invocation(compose: Mapping[str, Any]) -> None:
    services = dict(zonegate_services(compose))
    # 6 nodes, 2 GLBs, 9 demo backends, the config-apply job, the SLO dashboard
    assert len(services) == 6 + 2 + 9 + 1 + 1, sorted(services)
    for name, service in services.items():
        args = parse_cli(command_of(service))
        assert args.command in {"node", "glb", "config", "demo-backend", "slo"}, name


def test_each_zonegate_verb_answers_help(compose: Mapping[str, Any]) -> None:
    """The installed console script knows every verb path the compose file uses."""
    paths = set()
    for _, service in zonegate_services(compose):
        command = command_of(service)
        depth = 2 if command[0] in ("config", "slo") else 1
        paths.add(tuple(command[:depth]))
    zonegate = tool("zonegate")
    running = {
        path: subprocess.Popen(
            [zonegate, *path, "--help"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for path in sorted(paths)
    }
    for path, process in running.items():
        stdout, stderr = process.communicate(timeout=60)
        assert process.returncode == 0, f"zonegate {' '.join(path)} --help: {stderr}"
        assert f"usage: zonegate {' '.join(path)}" in stdout


def test_mounted_cluster_configs_exist_and_validate(compose: Mapping[str, Any]) -> None:
    checked = set()
    for name, service in zonegate_services(compose):
        for path in config_paths(parse_cli(command_of(service))):
            host_file = container_file(service, path)
            assert host_file is not None, f"{name}: {path} is not mounted into the container"
            assert host_file.is_file(), f"{name}: {host_file} does not exist"
            config = load_config(host_file)
            assert [z.name for z in config.zones] == list(ZONES), host_file
            checked.add(host_file)
    assert checked == {ROOT / "deploy" / "compose" / "cluster.yaml"}


def test_every_bind_mount_and_secret_exists(compose: Mapping[str, Any]) -> None:
    for name, service in compose["services"].items():
        for source, target in bind_mounts(service):
            assert source.exists(), f"{name}: mounts {source} (at {target}), which does not exist"
            assert source.resolve().is_relative_to(ROOT), f"{name}: {source} is outside the repo"
        for secret in service.get("secrets", []):
            secret_name = secret["source"] if isinstance(secret, dict) else secret
            assert secret_name in compose["secrets"], f"{name}: unknown secret {secret_name}"
    for secret_name, secret in compose["secrets"].items():
        assert Path(secret["file"]).is_file(), f"secret {secret_name}: {secret['file']} is missing"
    declared_volumes = set(compose.get("volumes", {}))
    for name, service in compose["services"].items():
        for volume in service.get("volumes", []):
            volume_source = volume.split(":")[0] if isinstance(volume, str) else volume["source"]
            if not str(volume_source).startswith(("/", ".")):
                assert volume_source in declared_volumes, f"{name}: undeclared {volume_source}"


def test_etcd_is_three_members_of_the_official_image_with_data_volumes(
    compose: Mapping[str, Any],
) -> None:
    members = {n: s for n, s in compose["services"].items() if n.startswith("etcd-")}
    assert sorted(members) == ["etcd-1", "etcd-2", "etcd-3"]
    initial = set()
    for name, service in members.items():
        match = ETCD_IMAGE.match(service["image"])
        assert match, f"{name}: {service['image']} is not the official etcd 3.5 image"
        assert int(match.group(1)) >= 21, "use a current 3.5 patch release"
        env = service["environment"]
        assert env["ETCD_NAME"] == name
        assert env["ETCD_INITIAL_ADVERTISE_PEER_URLS"] == f"http://{name}:2380"
        initial.add(env["ETCD_INITIAL_CLUSTER"])
        data_dir = env["ETCD_DATA_DIR"]
        named = [v for v in service["volumes"] if not str(v).startswith("/")]
        assert any(str(v).split(":")[1] == data_dir for v in named), f"{name}: no data volume"
        assert "healthcheck" in service
    assert initial == {",".join(f"{m}=http://{m}:2380" for m in sorted(members))}


def test_three_zones_of_two_nodes_each_on_their_zone_network(compose: Mapping[str, Any]) -> None:
    per_zone: dict[str, list[str]] = {zone: [] for zone in ZONES}
    for name, service in zonegate_services(compose):
        args = parse_cli(command_of(service))
        if args.command != "node":
            continue
        assert args.zone in per_zone, f"{name}: unknown zone {args.zone}"
        assert args.node_id == name
        assert f"zone-{args.zone}" in service["networks"], f"{name}: not on its zone network"
        other = [f"zone-{z}" for z in ZONES if z != args.zone]
        assert not set(other) & set(service["networks"]), f"{name}: on another zone's network"
        per_zone[args.zone].append(name)
    assert {zone: len(nodes) for zone, nodes in per_zone.items()} == dict.fromkeys(ZONES, 2)
    assert {"edge", "control", *(f"zone-{z}" for z in ZONES)} <= set(compose["networks"])
    for network in compose["networks"].values():
        assert network.get("name", "").startswith("zonegate-"), "fixed names for network drills"


def test_nodes_get_the_admin_token_the_config_names(compose: Mapping[str, Any]) -> None:
    for name, service in zonegate_services(compose):
        if parse_cli(command_of(service)).command != "node":
            continue
        token_file = cluster_config(compose, name).node.admin.token_file
        assert token_file is not None, "a non-loopback admin listener needs a token"
        secret = token_file.removeprefix("/run/secrets/")
        assert secret in service["secrets"] or {"source": secret} in service["secrets"], name
        assert service["environment"]["ZONEGATE_ADMIN_TOKEN_FILE"] == token_file


def test_demo_backends_in_every_zone(compose: Mapping[str, Any]) -> None:
    cluster_name = cluster_config(compose, "node-eu-west-1a-1").cluster
    found = set()
    for name, service in zonegate_services(compose):
        command = command_of(service)
        if "--cluster" in command:
            assert command[command.index("--cluster") + 1] == cluster_name, name
        if command[0] != "demo-backend":
            continue
        service_name = command[command.index("--service") + 1]
        zone = command[command.index("--zone") + 1]
        assert name == f"{service_name}-{zone}"
        assert f"zone-{zone}" in service["networks"]
        found.add((service_name, zone))
    assert found == {(s, z) for s in ("catalog", "orders", "users") for z in ZONES}


def test_two_glbs_on_the_edge_network(compose: Mapping[str, Any]) -> None:
    glbs = []
    for name, service in zonegate_services(compose):
        args = parse_cli(command_of(service))
        if args.command == "glb":
            assert "edge" in service["networks"]
            assert args.admin == ("0.0.0.0", 9000)
            glbs.append(name)
    assert sorted(glbs) == ["glb-1", "glb-2"]


def test_toxiproxy_carries_every_drill_link_of_the_cluster_config(
    compose: Mapping[str, Any],
) -> None:
    toxiproxy = compose["services"]["toxiproxy"]
    assert toxiproxy["image"].startswith("ghcr.io/shopify/toxiproxy:2.")
    config_arg = next(a for a in toxiproxy["command"] if a.startswith("-config="))
    host_file = container_file(toxiproxy, config_arg.removeprefix("-config="))
    assert host_file is not None
    proxies = load_config_file(host_file)  # zonegate's own Toxiproxy-compatible parser
    by_port = {int(p.listen.rpartition(":")[2]): p for p in proxies}
    by_name = {p.name: p for p in proxies}
    assert len(by_port) == len(proxies), "two proxies listen on one port"
    assert len({p.name for p in proxies}) == len(proxies)

    config = cluster_config(compose, "node-eu-west-1a-1")
    linked: list[tuple[str, str | None, int]] = []
    for zone in config.zones:
        for node in zone.static_nodes:
            linked += [(node.address, node.id, 8080), (node.admin, node.id, 9901)]
    for cluster in config.clusters:
        for endpoint in cluster.endpoints:
            linked.append((endpoint.address, None, 8080))
    for address, node_id, port in linked:
        host, _, listen = address.rpartition(":")
        assert host == "toxiproxy", f"{address}: drill links go through toxiproxy"
        proxy = by_port[int(listen)]
        upstream_host, _, upstream_port = proxy.upstream.rpartition(":")
        assert upstream_host in compose["services"], f"{proxy.name}: unknown {upstream_host}"
        assert int(upstream_port) == port, proxy.name
        if node_id is not None:
            assert upstream_host == node_id, f"{proxy.name} should reach {node_id}"
        shared = set(compose["services"][upstream_host]["networks"]) & set(toxiproxy["networks"])
        assert shared, f"toxiproxy cannot reach {upstream_host}"
    assert len(linked) == len(proxies), "every proxy is a link of the cluster config"
    names = [p.name for p in proxies]
    for zone in config.zones:
        members = link_members(names, f"glb:{zone.name}")
        upstreams = {by_name[m].upstream.partition(":")[0] for m in members}
        assert upstreams == {n.id for n in zone.static_nodes}, f"link glb:{zone.name}"
        backends = link_members(names, f"backends:{zone.name}")
        assert {by_name[m].upstream for m in backends} == {
            f"{s}-{zone.name}:8080" for s in ("catalog", "orders", "users")
        }


def test_start_order_waits_for_health(compose: Mapping[str, Any]) -> None:
    services = compose["services"]
    for name, service in services.items():
        has_check = "healthcheck" in service and not service["healthcheck"].get("disable")
        one_shot = service.get("restart") == "no"
        assert has_check or one_shot or name in NO_HEALTHCHECK, f"{name} has no healthcheck"
        for dependency, condition in service.get("depends_on", {}).items():
            wanted = condition["condition"]
            if dependency in NO_HEALTHCHECK:
                assert wanted == "service_started", f"{name} -> {dependency}"
            elif services[dependency].get("restart") == "no":
                assert wanted == "service_completed_successfully", f"{name} -> {dependency}"
            else:
                assert wanted == "service_healthy", f"{name} -> {dependency}"
    for name in ("glb-1", "glb-2"):
        needs = set(services[name]["depends_on"])
        assert {f"node-{z}-{i}" for z in ZONES for i in (1, 2)} <= needs
    for name, service in zonegate_services(compose):
        if command_of(service)[0] == "node":
            assert "zonegate-config-apply" in service["depends_on"], name


def test_prometheus_scrapes_every_node_and_glb(compose: Mapping[str, Any]) -> None:
    prometheus = compose["services"]["prometheus"]
    config_file = container_file(prometheus, "/etc/prometheus/prometheus.yml")
    assert config_file is not None
    scrape = yaml.safe_load(config_file.read_text(encoding="utf-8"))["scrape_configs"]
    targets = {
        job["job_name"]: {t for sc in job["static_configs"] for t in sc["targets"]}
        for job in scrape
    }
    nodes = set()
    for name, service in zonegate_services(compose):
        args = parse_cli(command_of(service))
        if args.command == "node":
            nodes.add(f"{name}:9901")
            assert set(service["networks"]) & set(prometheus["networks"]), name
    assert targets["zonegate-node"] == nodes
    assert targets["zonegate-glb"] == {"glb-1:9000", "glb-2:9000"}
    assert targets["etcd"] == {"etcd-1:2381", "etcd-2:2381", "etcd-3:2381"}


def test_published_ports_are_loopback_only_and_admin_ports_stay_inside(
    compose: Mapping[str, Any],
) -> None:
    for name, service in compose["services"].items():
        for port in service.get("ports", []):
            text = (
                port
                if isinstance(port, str)
                else f"{port['host_ip']}:{port['published']}:{port['target']}"
            )
            assert text.startswith("127.0.0.1:"), f"{name} publishes {text} beyond loopback"
            target = int(text.split(":")[2].split("/")[0])
            assert target not in (9901, 9000, 2379, 2380, 2381), f"{name} publishes admin {target}"


def test_stop_grace_period_covers_the_node_drain(compose: Mapping[str, Any]) -> None:
    for name, service in zonegate_services(compose):
        args = parse_cli(command_of(service))
        if args.command != "node":
            continue
        config = cluster_config(compose, name)
        drain = config.node.drain
        if args.drain_grace is not None:
            assert args.drain_grace == drain.grace_s, f"{name}: --drain-grace differs from config"
        if args.drain_timeout is not None:
            assert args.drain_timeout == drain.timeout_s, f"{name}: --drain-timeout differs"
        grace = service["stop_grace_period"]
        seconds = int(grace.removesuffix("s"))
        assert seconds > drain.grace_s + drain.timeout_s, name
        glb = config.glb.health_check
        assert drain.grace_s >= glb.fall * glb.interval_s, "the GLB must notice before close"


def test_tracing_reaches_jaeger_through_the_collector(compose: Mapping[str, Any]) -> None:
    config = cluster_config(compose, "node-eu-west-1a-1")
    endpoint = config.node.tracing.otlp_endpoint
    assert endpoint == "http://otel-collector:4318"
    collector = compose["services"]["otel-collector"]
    config_arg = collector["command"][0].removeprefix("--config=")
    collector_file = container_file(collector, config_arg)
    assert collector_file is not None
    otel = yaml.safe_load(collector_file.read_text(encoding="utf-8"))
    assert otel["receivers"]["otlp"]["protocols"]["http"]["endpoint"].endswith(":4318")
    exporter = otel["exporters"]["otlp/jaeger"]["endpoint"]
    assert exporter.partition(":")[0] in compose["services"]
    node_nets = set(compose["services"]["node-eu-west-1a-1"]["networks"])
    assert node_nets & set(collector["networks"]), "nodes cannot reach the collector"


def test_grafana_provisions_prometheus_and_the_dashboards(compose: Mapping[str, Any]) -> None:
    grafana = compose["services"]["grafana"]
    provisioning = [(s, t) for s, t in bind_mounts(grafana) if t.startswith("/etc/grafana/")]
    datasources = [
        d
        for source, target in provisioning
        if "/datasources/" in target
        for d in yaml.safe_load(source.read_text(encoding="utf-8"))["datasources"]
    ]
    by_type = {d["type"]: d for d in datasources}
    assert by_type["prometheus"]["url"] == "http://prometheus:9090"
    assert by_type["alertmanager"]["url"] == "http://alertmanager:9093"
    assert by_type["jaeger"]["url"] == "http://jaeger:16686"
    assert len({d["name"] for d in datasources}) == len(datasources), "duplicate datasource"
    assert [d["name"] for d in datasources if d.get("isDefault")] == ["Prometheus"]
    for d in datasources:
        host = d["url"].removeprefix("http://").partition(":")[0]
        assert set(compose["services"][host]["networks"]) & set(grafana["networks"]), host
    [providers_file] = [s for s, t in provisioning if "/dashboards/" in t]
    [provider] = yaml.safe_load(providers_file.read_text(encoding="utf-8"))["providers"]
    dashboards_dir = container_file(grafana, provider["options"]["path"])
    assert dashboards_dir is not None and dashboards_dir.is_dir()
    dashboards = sorted(dashboards_dir.glob("*.json"))
    assert dashboards, f"no dashboard JSON in {dashboards_dir}"
    for dashboard in dashboards:
        json.loads(dashboard.read_text(encoding="utf-8"))


def test_locustfile_defines_the_drill_user() -> None:
    result = run([tool("locust"), "-f", "deploy/locust/locustfile.py", "--list"])
    assert result.returncode == 0, result.stderr
    assert "GatewayClient" in result.stdout
