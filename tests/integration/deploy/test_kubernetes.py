"""deploy/k8s: the example overlay renders with kustomize, every object validates against
the Kubernetes OpenAPI schemas (strict), and the manifests do what the design needs."""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate  # type: ignore[import-untyped]
import pytest
import yaml

from tests.integration.deploy.conftest import Rendered, parse_cli
from zonegate.config.loader import load_config
from zonegate.config.model import ClusterConfig

KUBERNETES_VERSION = "1.37.0"
ZONE_LABEL = "topology.kubernetes.io/zone"
ADMIN_PORTS = {9901, 9000, 2381}
#: kustomize v5 still reads `bases:` (which kubectl 1.20's kustomize v2.0 needs) and says so.
KNOWN_WARNINGS = re.compile(r"^# Warning: 'bases' is deprecated\. .*$")
SERVICE_MONITOR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "additionalProperties": False,
    "properties": {
        "apiVersion": {"const": "monitoring.coreos.com/v1"},
        "kind": {"const": "ServiceMonitor"},
        "metadata": {"type": "object", "required": ["name", "namespace"]},
        "spec": {
            "type": "object",
            "required": ["selector", "endpoints"],
            "additionalProperties": False,
            "properties": {
                "selector": {
                    "type": "object",
                    "properties": {"matchLabels": {"type": "object"}},
                    "additionalProperties": False,
                },
                "endpoints": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "required": ["port"],
                        "additionalProperties": False,
                        "properties": {
                            "port": {"type": "string"},
                            "path": {"type": "string", "pattern": "^/"},
                            "interval": {"type": "string", "pattern": "^[0-9]+(ms|s|m|h)$"},
                            "scrapeTimeout": {"type": "string", "pattern": "^[0-9]+(ms|s|m|h)$"},
                            "authorization": {
                                "type": "object",
                                "additionalProperties": False,
                                "properties": {
                                    "type": {"type": "string"},
                                    "credentials": {
                                        "type": "object",
                                        "required": ["name", "key"],
                                        "additionalProperties": False,
                                        "properties": {
                                            "name": {"type": "string"},
                                            "key": {"type": "string"},
                                        },
                                    },
                                },
                            },
                        },
                    },
                },
            },
        },
    },
}


def by_kind(rendered: Rendered, kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in rendered.documents if d["kind"] == kind}


def workloads(rendered: Rendered) -> Iterator[dict[str, Any]]:
    for doc in rendered.documents:
        if doc["kind"] in ("Deployment", "StatefulSet", "Job"):
            yield doc


def pod_spec(workload: Mapping[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = workload["spec"]["template"]["spec"]
    return spec


def pod_labels(workload: Mapping[str, Any]) -> dict[str, str]:
    labels: dict[str, str] = workload["spec"]["template"]["metadata"]["labels"]
    return labels


def is_zonegate(container: Mapping[str, Any]) -> bool:
    return str(container["image"]).rpartition(":")[0].endswith("/zonegate")


def selects(selector: Mapping[str, str], labels: Mapping[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


def expand(container: Mapping[str, Any], rendered: Rendered, zone: str) -> list[str]:
    """The container's args with $(VAR) replaced as the kubelet would, for a pod in zone."""
    configmaps = by_kind(rendered, "ConfigMap")
    values: dict[str, str] = {}
    for env in container.get("env", []):
        if "value" in env:
            values[env["name"]] = re.sub(r"\$\((\w+)\)", lambda m: values[m.group(1)], env["value"])
            continue
        source = env["valueFrom"]
        if "fieldRef" in source:
            path = source["fieldRef"]["fieldPath"]
            assert path in ("metadata.name", f"metadata.labels['{ZONE_LABEL}']"), path
            values[env["name"]] = "pod-0" if path == "metadata.name" else zone
        else:
            ref = source["configMapKeyRef"]
            values[env["name"]] = configmaps[ref["name"]]["data"][ref["key"]]
    return [re.sub(r"\$\((\w+)\)", lambda m: values[m.group(1)], a) for a in container["args"]]


def mounted_config(workload: Mapping[str, Any], path: str, rendered: Rendered, tmp: Path) -> Path:
    """Write the ConfigMap key a container sees at ``path`` to a temp file."""
    spec = pod_spec(workload)
    [container] = [c for c in spec["containers"] if is_zonegate(c)]
    for mount in container.get("volumeMounts", []):
        prefix = mount["mountPath"].rstrip("/") + "/"
        if path.startswith(prefix):
            volume = next(v for v in spec["volumes"] if v["name"] == mount["name"])
            configmap = by_kind(rendered, "ConfigMap")[volume["configMap"]["name"]]
            target = tmp / path.removeprefix(prefix)
            target.write_text(configmap["data"][path.removeprefix(prefix)], encoding="utf-8")
            return target
    raise AssertionError(f"{workload['metadata']['name']}: {path} is not mounted")


@pytest.fixture(scope="module")
def cluster(k8s_example: Rendered, tmp_path_factory: pytest.TempPathFactory) -> ClusterConfig:
    [configmap] = [
        c for n, c in by_kind(k8s_example, "ConfigMap").items() if n.startswith("zonegate-config")
    ]
    path = tmp_path_factory.mktemp("k8s") / "cluster.yaml"
    path.write_text(configmap["data"]["cluster.yaml"], encoding="utf-8")
    return load_config(path)


def test_overlay_renders_with_no_unexplained_warning(k8s_example: Rendered) -> None:
    unexpected = [
        line for line in k8s_example.stderr.splitlines() if not KNOWN_WARNINGS.match(line)
    ]
    assert not unexpected
    assert {d["metadata"].get("namespace") for d in k8s_example.documents} == {"zonegate", None}
    [namespace] = by_kind(k8s_example, "Namespace")
    assert namespace == "zonegate"


def test_every_object_validates_against_the_kubernetes_schemas(k8s_example: Rendered) -> None:
    kinds = set()
    for doc in k8s_example.documents:
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
        kinds.add(doc["kind"])
    assert {"Deployment", "StatefulSet", "Job", "PodDisruptionBudget", "NetworkPolicy"} <= kinds


def test_the_schema_check_is_strict(k8s_example: Rendered) -> None:
    node = copy.deepcopy(by_kind(k8s_example, "Deployment")["zonegate-node"])
    pod_spec(node)["containers"][0]["readinesProbes"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(node, KUBERNETES_VERSION, strict=True)


def test_service_monitors_scrape_node_glb_and_etcd(
    k8s_monitoring: Rendered, k8s_example: Rendered
) -> None:
    services = by_kind(k8s_example, "Service")
    secrets = by_kind(k8s_example, "Secret")
    monitors = by_kind(k8s_monitoring, "ServiceMonitor")
    assert sorted(monitors) == ["etcd", "zonegate-glb", "zonegate-node"]
    for name, monitor in monitors.items():
        jsonschema.validate(monitor, SERVICE_MONITOR_SCHEMA)
        assert monitor["metadata"]["namespace"] == "zonegate"
        selected = [
            s
            for s in services.values()
            if selects(monitor["spec"]["selector"]["matchLabels"], s["metadata"]["labels"])
        ]
        for endpoint in monitor["spec"]["endpoints"]:
            with_port = [s for s in selected if endpoint["port"] in _port_names(s)]
            assert len(with_port) == 1, f"{name}: {endpoint['port']} on {len(with_port)} services"
            credentials = endpoint.get("authorization", {}).get("credentials")
            if credentials:
                assert credentials["key"] in secrets[credentials["name"]]["stringData"]


def _port_names(service: Mapping[str, Any]) -> set[str]:
    return {p["name"] for p in service["spec"]["ports"]}


def test_zonegate_containers_run_real_commands_on_valid_configs(
    k8s_example: Rendered, cluster: ClusterConfig, tmp_path: Path
) -> None:
    zone = cluster.zones[0].name
    commands = set()
    for workload in workloads(k8s_example):
        for container in pod_spec(workload)["containers"]:
            if not is_zonegate(container):
                continue
            assert "command" not in container, "the image's entrypoint is zonegate"
            args = parse_cli(expand(container, k8s_example, zone))
            commands.add(args.command)
            paths = {"node": "config", "glb": "config"}.get(args.command)
            if args.command == "config":
                assert args.config_command == "apply"
                config_path = args.file
            elif paths:
                config_path = getattr(args, paths)
            else:
                continue
            config = load_config(mounted_config(workload, config_path, k8s_example, tmp_path))
            assert config == cluster
    assert commands == {"node", "glb", "config", "demo-backend"}


def test_nodes_spread_over_zones_and_learn_their_zone_from_the_downward_api(
    k8s_example: Rendered, cluster: ClusterConfig
) -> None:
    for name in ("zonegate-node", "zonegate-glb", "catalog", "orders", "users"):
        workload = by_kind(k8s_example, "Deployment")[name]
        spread = pod_spec(workload)["topologySpreadConstraints"]
        [by_zone] = [c for c in spread if c["topologyKey"] == ZONE_LABEL]
        assert by_zone["maxSkew"] == 1
        assert selects(by_zone["labelSelector"]["matchLabels"], pod_labels(workload))
    node = by_kind(k8s_example, "Deployment")["zonegate-node"]
    assert node["spec"]["replicas"] == 2 * len(cluster.zones)
    [container] = pod_spec(node)["containers"]
    zone_env = next(e for e in container["env"] if e["name"] == "ZONEGATE_ZONE")
    assert zone_env["valueFrom"]["fieldRef"]["fieldPath"] == f"metadata.labels['{ZONE_LABEL}']"
    args = parse_cli(expand(container, k8s_example, "eu-west-1b"))
    assert args.zone == "eu-west-1b" and args.node_id == "pod-0"


def test_zone_services_are_the_glb_static_nodes(
    k8s_example: Rendered, cluster: ClusterConfig
) -> None:
    services = by_kind(k8s_example, "Service")
    node = by_kind(k8s_example, "Deployment")["zonegate-node"]
    ports = {p["name"]: p["containerPort"] for p in pod_spec(node)["containers"][0]["ports"]}
    for zone in cluster.zones:
        [static] = zone.static_nodes
        for address, port_name in ((static.address, "http"), (static.admin, "admin")):
            host, _, port = address.rpartition(":")
            service = services[host]
            selector = service["spec"]["selector"]
            assert selector[ZONE_LABEL] == zone.name
            assert selects({k: v for k, v in selector.items() if k != ZONE_LABEL}, pod_labels(node))
            [service_port] = [p for p in service["spec"]["ports"] if p["port"] == int(port)]
            assert service_port["targetPort"] == port_name
            assert ports[port_name] == int(port)
    assert ports["admin"] == cluster.node.admin.port
    assert ports["http"] == cluster.node.listener.port


def test_nodes_mount_the_admin_token_the_config_names(
    k8s_example: Rendered, cluster: ClusterConfig
) -> None:
    node = by_kind(k8s_example, "Deployment")["zonegate-node"]
    spec = pod_spec(node)
    token_file = cluster.node.admin.token_file
    assert token_file is not None and cluster.node.admin.host == "0.0.0.0"
    directory, _, key = token_file.rpartition("/")
    [mount] = [m for m in spec["containers"][0]["volumeMounts"] if m["mountPath"] == directory]
    [volume] = [v for v in spec["volumes"] if v["name"] == mount["name"]]
    secret = by_kind(k8s_example, "Secret")[volume["secret"]["secretName"]]
    assert key in secret["stringData"]


def test_disruption_budgets_cover_nodes_glb_and_etcd(k8s_example: Rendered) -> None:
    budgets = by_kind(k8s_example, "PodDisruptionBudget")
    covered = set()
    for workload in workloads(k8s_example):
        for budget in budgets.values():
            if selects(budget["spec"]["selector"]["matchLabels"], pod_labels(workload)):
                covered.add(workload["metadata"]["name"])
    assert {"zonegate-node", "zonegate-glb", "etcd"} <= covered
    assert budgets["etcd"]["spec"]["minAvailable"] == 2
    assert budgets["zonegate-node"]["spec"]["maxUnavailable"] == 1


def test_probes_hit_the_admin_port(k8s_example: Rendered, cluster: ClusterConfig) -> None:
    deployments = by_kind(k8s_example, "Deployment")
    for name in ("zonegate-node", "zonegate-glb"):
        [container] = pod_spec(deployments[name])["containers"]
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "admin"}
        assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "admin"}
        args = parse_cli(expand(container, k8s_example, "eu-west-1a"))
        admin_port = args.admin[1] if args.command == "glb" else cluster.node.admin.port
        assert ports["admin"] == admin_port


def test_drain_sequence_fits_the_termination_grace_period(
    k8s_example: Rendered, cluster: ClusterConfig
) -> None:
    node = by_kind(k8s_example, "Deployment")["zonegate-node"]
    spec = pod_spec(node)
    [container] = spec["containers"]
    pre_stop = container["lifecycle"]["preStop"]["sleep"]["seconds"]
    drain = cluster.node.drain
    args = parse_cli(expand(container, k8s_example, "eu-west-1a"))
    grace = args.drain_grace if args.drain_grace is not None else drain.grace_s
    timeout = args.drain_timeout if args.drain_timeout is not None else drain.timeout_s
    assert spec["terminationGracePeriodSeconds"] >= pre_stop + grace + timeout
    health = cluster.glb.health_check
    assert grace >= health.fall * health.interval_s, "the GLB must see /readyz 503 first"
    assert timeout >= max(route.timeout_s for route in cluster.routes)
    readiness = container["readinessProbe"]
    assert readiness["periodSeconds"] * readiness["failureThreshold"] <= pre_stop + grace


def test_glb_is_behind_a_load_balancer(k8s_example: Rendered) -> None:
    glb = by_kind(k8s_example, "Deployment")["zonegate-glb"]
    assert glb["spec"]["replicas"] >= 2
    [container] = pod_spec(glb)["containers"]
    args = parse_cli(expand(container, k8s_example, "eu-west-1a"))
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    balancers = [
        s
        for s in by_kind(k8s_example, "Service").values()
        if s["spec"].get("type") == "LoadBalancer"
    ]
    [service] = balancers
    assert selects(service["spec"]["selector"], pod_labels(glb))
    assert service["spec"]["externalTrafficPolicy"] == "Local", "keep client source addresses"
    [port] = service["spec"]["ports"]
    assert ports[port["targetPort"]] == args.listen[1]
    assert port["targetPort"] != "admin"


def test_config_is_applied_to_etcd_by_a_job(k8s_example: Rendered) -> None:
    job = by_kind(k8s_example, "Job")["zonegate-config-apply"]
    [container] = pod_spec(job)["containers"]
    args = parse_cli(expand(container, k8s_example, "eu-west-1a"))
    assert (args.command, args.config_command) == ("config", "apply")
    assert args.etcd.split(",") == [f"etcd-{i}.etcd-peer:2379" for i in range(3)]
    assert pod_spec(job)["restartPolicy"] == "OnFailure"
    assert job["spec"]["ttlSecondsAfterFinished"] > 0


def test_etcd_is_a_three_member_statefulset(k8s_example: Rendered) -> None:
    etcd = by_kind(k8s_example, "StatefulSet")["etcd"]
    assert etcd["spec"]["replicas"] == 3
    assert etcd["spec"]["podManagementPolicy"] == "Parallel"
    service = by_kind(k8s_example, "Service")[etcd["spec"]["serviceName"]]
    assert service["spec"]["clusterIP"] == "None" and service["spec"]["publishNotReadyAddresses"]
    [container] = pod_spec(etcd)["containers"]
    assert re.match(r"^gcr\.io/etcd-development/etcd:v3\.5\.\d+$", container["image"])
    env = {e["name"]: e.get("value") for e in container["env"]}
    members = [f"etcd-{i}" for i in range(3)]
    peer = etcd["spec"]["serviceName"]
    assert env["ETCD_INITIAL_CLUSTER"] == ",".join(f"{m}=http://{m}.{peer}:2380" for m in members)
    [claim] = etcd["spec"]["volumeClaimTemplates"]
    [mount] = container["volumeMounts"]
    assert mount["name"] == claim["metadata"]["name"]
    assert str(env["ETCD_DATA_DIR"]).startswith(mount["mountPath"])


def test_every_container_has_requests_limits_and_runs_unprivileged(
    k8s_example: Rendered,
) -> None:
    for workload in workloads(k8s_example):
        spec = pod_spec(workload)
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert spec["automountServiceAccountToken"] is False
        for container in spec["containers"]:
            resources = container["resources"]
            assert {"cpu", "memory"} <= set(resources["requests"]), container["name"]
            assert {"cpu", "memory"} <= set(resources["limits"]), container["name"]
            security = container["securityContext"]
            assert security["allowPrivilegeEscalation"] is False
            assert security["readOnlyRootFilesystem"] is True
            assert security["capabilities"]["drop"] == ["ALL"]


def test_pods_carry_scrape_annotations_for_their_metrics_port(k8s_example: Rendered) -> None:
    annotated = set()
    for workload in workloads(k8s_example):
        annotations = workload["spec"]["template"]["metadata"].get("annotations", {})
        if annotations.get("prometheus.io/scrape") != "true":
            continue
        ports = {p["containerPort"] for c in pod_spec(workload)["containers"] for p in c["ports"]}
        assert int(annotations["prometheus.io/port"]) in ports
        assert int(annotations["prometheus.io/port"]) in ADMIN_PORTS
        annotated.add(workload["metadata"]["name"])
    assert {"zonegate-node", "zonegate-glb", "etcd"} <= annotated


def test_network_policies_keep_admin_ports_internal(k8s_example: Rendered) -> None:
    policies = by_kind(k8s_example, "NetworkPolicy")
    pods = [pod_labels(w) for w in workloads(k8s_example)]
    deny = policies["default-deny-ingress"]["spec"]
    assert deny["policyTypes"] == ["Ingress"] and "ingress" not in deny
    assert all(selects(deny["podSelector"].get("matchLabels", {}), labels) for labels in pods)
    open_to_all = set()
    for name, policy in policies.items():
        for rule in policy["spec"].get("ingress", []):
            ports = {p["port"] for p in rule.get("ports", [])}
            sources = rule.get("from", [])
            if not sources:
                open_to_all |= ports
            for source in sources:
                assert "ipBlock" not in source, f"{name}: admin paths are cluster-internal"
            if ports & ADMIN_PORTS:
                assert sources, f"{name} opens an admin port to everyone"
    assert open_to_all == {8000}, "only the GLB's traffic port is public"
    glb_admin = policies["zonegate-glb-admin"]["spec"]["ingress"]
    assert all("namespaceSelector" in s for rule in glb_admin for s in rule["from"])


def test_kustomization_files_parse(k8s_example: Rendered) -> None:
    """Every file a kustomization lists exists (kustomize would fail) and is YAML."""
    root = Path(__file__).resolve().parents[3] / "deploy" / "k8s"
    for kustomization in root.rglob("kustomization.yaml"):
        data = yaml.safe_load(kustomization.read_text(encoding="utf-8"))
        for entry in [*data.get("resources", []), *data.get("bases", [])]:
            assert (kustomization.parent / entry).exists(), f"{kustomization}: {entry}"
