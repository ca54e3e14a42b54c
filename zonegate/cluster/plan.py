"""From a cluster file to the list of processes to run: names, addresses, commands, checks.

Pure: ports come from an injected picker and the available features (which
flags the node has, whether ``zonegate glb`` exists) are passed in.

Addresses inside a zone's range (``base`` = its network address)::

    base + 1 .. base + 16                 gateway nodes
    base + 50                             the zone's etcd member
    base + 100 + 10 * service + instance  demo backends (catalog 0, orders 1, users 2)

and in the shared range: ``base + 1 ..`` the GLB replicas.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from zonegate.cluster.render import render_gateway
from zonegate.cluster.spec import DEMO_SERVICES, ClusterFile, ZoneSpec

ETCD = "etcd"
BACKEND = "backend"
NODE = "node"
GLB = "glb"
DASHBOARD = "dashboard"
FAULTPROXY = "faultproxy"  # opt-in, placed by zonegate.chaos.links (local.fault_proxies)
KINDS = (ETCD, FAULTPROXY, BACKEND, NODE, GLB, DASHBOARD)
PHASES: dict[str, int] = {ETCD: 0, FAULTPROXY: 0, BACKEND: 1, NODE: 2, GLB: 3, DASHBOARD: 3}
PHASE_TITLES = {
    ETCD: "etcd",
    FAULTPROXY: "fault proxies",
    BACKEND: "demo backends",
    NODE: "gateway nodes",
    GLB: "GLB",
    DASHBOARD: "SLO dashboard",
}

COOKIE_KEY_FILE = "glb-cookie.key"

PortPicker = Callable[[str, int], int]
"""``pick(host, wanted)``: ``wanted`` if non-zero (after checking it is free), else a free port."""


@dataclass(frozen=True)
class Features:
    """What the installed zonegate commands support (read from their argument parsers)."""

    node_admin: bool = False
    node_etcd: bool = False
    glb: bool = False
    glb_flags: frozenset[str] = frozenset()
    backend_etcd: bool = True
    slo_serve: bool = False


@dataclass(frozen=True)
class HealthCheck:
    """``http``: GET ``url`` answers 200 (``etcd``: and says health true); ``tcp``: connects."""

    kind: str
    url: str = ""
    host: str = ""
    port: int = 0


@dataclass(frozen=True)
class ProcessSpec:
    name: str
    kind: str
    zone: str
    region: str
    argv: tuple[str, ...]
    host: str
    port: int
    health: HealthCheck
    admin: str = ""
    service: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def phase(self) -> int:
        return PHASES[self.kind]

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.address}"


@dataclass(frozen=True)
class Plan:
    cluster: str
    processes: tuple[ProcessSpec, ...]
    gateway: dict[str, Any]
    etcd_endpoints: tuple[str, ...]
    etcd_initial_cluster: str = ""

    def by_kind(self, kind: str) -> list[ProcessSpec]:
        return [p for p in self.processes if p.kind == kind]

    def get(self, name: str) -> ProcessSpec:
        for process in self.processes:
            if process.name == name:
                return process
        raise KeyError(name)


def zone_host(zone: ZoneSpec, offset: int) -> str:
    network = ipaddress.IPv4Network(zone.addresses)
    return str(network.network_address + offset)


def shared_host(network: str, offset: int) -> str:
    return str(ipaddress.IPv4Network(network).network_address + offset)


@dataclass(frozen=True)
class PlanInputs:
    file: ClusterFile
    run_dir: Path
    zonegate: tuple[str, ...]
    etcd_binary: str
    features: Features
    etcd_token: str = "zonegate-local"


def build_plan(inputs: PlanInputs, pick: PortPicker) -> Plan:
    """Every process of the cluster, in start order, with the rendered gateway config."""
    local = inputs.file.local
    cluster = inputs.file.cluster_name
    etcd = _etcd_members(inputs, pick) if local.etcd.enabled else []
    endpoints = tuple(p.extra["client"] for p in etcd)
    backends = _backends(inputs, pick, endpoints, cluster)
    config_path = str(inputs.run_dir / "gateway.json")
    nodes = _nodes(inputs, pick, endpoints, config_path)
    glbs = _glbs(inputs, pick, endpoints, config_path) if inputs.features.glb else []
    dashboard = []
    if inputs.features.slo_serve and local.dashboard.enabled:
        dashboard = [_dashboard(inputs, pick, endpoints, [*nodes, *glbs])]
    gateway = render_gateway(inputs.file, backends, nodes)
    initial = etcd[0].extra["initial_cluster"] if etcd else ""
    processes = (*etcd, *backends, *nodes, *glbs, *dashboard)
    return Plan(cluster, processes, gateway, endpoints, initial)


def _etcd_members(inputs: PlanInputs, pick: PortPicker) -> list[ProcessSpec]:
    local = inputs.file.local
    members = []
    for zone in local.zones:
        host = zone_host(zone, 50)
        members.append((zone, host, pick(host, 0), pick(host, 0)))
    initial = ",".join(f"etcd-{z.name}=http://{h}:{peer}" for z, h, _, peer in members)
    out = []
    for zone, host, client, peer in members:
        name = f"etcd-{zone.name}"
        data_dir = inputs.run_dir / "etcd" / f"{name}.data"
        argv = (
            inputs.etcd_binary,
            f"--name={name}",
            f"--data-dir={data_dir}",
            f"--listen-client-urls=http://{host}:{client}",
            f"--advertise-client-urls=http://{host}:{client}",
            f"--listen-peer-urls=http://{host}:{peer}",
            f"--initial-advertise-peer-urls=http://{host}:{peer}",
            f"--initial-cluster={initial}",
            f"--initial-cluster-token={inputs.etcd_token}",
            "--initial-cluster-state=new",
            f"--heartbeat-interval={local.etcd.heartbeat_ms}",
            f"--election-timeout={local.etcd.election_ms}",
            "--logger=zap",
            "--log-outputs=stderr",
        )
        out.append(
            ProcessSpec(
                name=name,
                kind=ETCD,
                zone=zone.name,
                region=zone.region,
                argv=argv,
                host=host,
                port=client,
                health=HealthCheck("etcd", url=f"http://{host}:{client}/health"),
                extra={
                    "client": f"{host}:{client}",
                    "peer": f"{host}:{peer}",
                    "data_dir": str(data_dir),
                    "initial_cluster": initial,
                },
            )
        )
    return out


def _backends(
    inputs: PlanInputs, pick: PortPicker, etcd: Sequence[str], cluster: str
) -> list[ProcessSpec]:
    local = inputs.file.local
    out = []
    for zone in local.zones:
        for backend in local.backends:
            index = DEMO_SERVICES.index(backend.service)
            for i in range(backend.per_zone):
                host = zone_host(zone, 100 + 10 * index + i)
                port = pick(host, backend.port)
                suffix = f"-{i + 1}" if backend.per_zone > 1 else ""
                name = f"{backend.service}-{zone.name}{suffix}"
                argv = [
                    *inputs.zonegate,
                    "demo-backend",
                    "--service",
                    backend.service,
                    "--zone",
                    zone.name,
                    "--id",
                    name,
                    "--listen",
                    f"{host}:{port}",
                ]
                if etcd and inputs.features.backend_etcd:
                    argv += ["--etcd", ",".join(etcd), "--cluster", cluster]
                out.append(
                    ProcessSpec(
                        name=name,
                        kind=BACKEND,
                        zone=zone.name,
                        region=zone.region,
                        argv=tuple(argv),
                        host=host,
                        port=port,
                        health=HealthCheck("http", url=f"http://{host}:{port}/healthz"),
                        service=backend.service,
                    )
                )
    return out


def _nodes(
    inputs: PlanInputs, pick: PortPicker, etcd: Sequence[str], config_path: str
) -> list[ProcessSpec]:
    local = inputs.file.local
    features = inputs.features
    out = []
    for zone in local.zones:
        for i in range(local.nodes.per_zone):
            host = zone_host(zone, 1 + i)
            port = pick(host, local.nodes.port)
            name = f"{zone.name}-{i + 1}"
            argv = [
                *inputs.zonegate,
                "node",
                "-c",
                config_path,
                "--id",
                name,
                "--zone",
                zone.name,
                "--listen",
                f"{host}:{port}",
                "--drain-grace",
                str(local.nodes.drain_grace_s),
            ]
            admin = ""
            health = HealthCheck("tcp", host=host, port=port)
            if features.node_admin:
                admin = f"{host}:{pick(host, local.nodes.admin_port)}"
                argv += ["--admin", admin]
                health = HealthCheck("http", url=f"http://{admin}/readyz")
            if features.node_etcd and etcd:
                argv += ["--etcd", ",".join(etcd)]
            out.append(
                ProcessSpec(
                    name=name,
                    kind=NODE,
                    zone=zone.name,
                    region=zone.region,
                    argv=tuple(argv),
                    host=host,
                    port=port,
                    health=health,
                    admin=admin,
                )
            )
    return out


def _glbs(
    inputs: PlanInputs, pick: PortPicker, etcd: Sequence[str], config_path: str
) -> list[ProcessSpec]:
    local = inputs.file.local
    flags = inputs.features.glb_flags
    out = []
    for i in range(local.glb.replicas):
        host = shared_host(local.shared_addresses, 1 + i)
        port = pick(host, local.glb.port)
        name = f"glb-{i + 1}"
        argv = [*inputs.zonegate, "glb", "-c", config_path, "--listen", f"{host}:{port}"]
        if "--id" in flags:
            argv += ["--id", name]
        admin = ""
        health = HealthCheck("tcp", host=host, port=port)
        if "--admin" in flags:
            admin = f"{host}:{pick(host, local.glb.admin_port)}"
            argv += ["--admin", admin]
            # ready = it sees a healthy node, which needs the nodes' admin listeners
            path = "/readyz" if inputs.features.node_admin else "/healthz"
            health = HealthCheck("http", url=f"http://{admin}{path}")
        if "--etcd" in flags and etcd:
            argv += ["--etcd", ",".join(etcd)]
        if "--cookie-key-file" in flags:
            argv += ["--cookie-key-file", str(inputs.run_dir / COOKIE_KEY_FILE)]
        out.append(
            ProcessSpec(
                name=name,
                kind=GLB,
                zone="",
                region="",
                argv=tuple(argv),
                host=host,
                port=port,
                health=health,
                admin=admin,
            )
        )
    return out


def _dashboard(
    inputs: PlanInputs, pick: PortPicker, etcd: Sequence[str], scraped: Sequence[ProcessSpec]
) -> ProcessSpec:
    """``zonegate slo serve``: scrapes the GLBs' and nodes' /metrics, shows SLOs and budgets."""
    local = inputs.file.local
    host = shared_host(local.shared_addresses, 1)
    port = pick(host, local.dashboard.port)
    argv = [*inputs.zonegate, "slo", "serve", "--host", host, "--port", str(port)]
    argv += ["--db", str(inputs.run_dir / "slo.db")]
    for process in scraped:
        if process.admin and not (process.kind == NODE and inputs.features.node_etcd):
            argv += ["--target", f"http://{process.admin}/metrics"]
    if etcd:
        argv += ["--etcd", ",".join(etcd), "--cluster", inputs.file.cluster_name]
    return ProcessSpec(
        name="dashboard",
        kind=DASHBOARD,
        zone="",
        region="",
        argv=tuple(argv),
        host=host,
        port=port,
        health=HealthCheck("http", url=f"http://{host}:{port}/healthz"),
    )
