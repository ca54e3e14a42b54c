"""The cluster file: what ``zonegate up`` runs (``local``) and the gateway config it applies.

A cluster file has two sections::

    local:     # the topology run on this machine: zones, nodes, etcd, GLB, demo backends
    gateway:   # a zonegate cluster config (routes, clusters...); clusters that name a
               # demo backend ``service`` get that service's instances as endpoints at start

With no file, :func:`default_cluster_file` is used (``examples/cluster.yaml`` is a copy).
"""

from __future__ import annotations

import ipaddress
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, ValidationError, field_validator, model_validator

from zonegate.chaos.links_spec import FaultProxies
from zonegate.cluster.errors import ClusterSpecError
from zonegate.config.base import Name, Port, Seconds, StrictModel
from zonegate.config.loader import format_loc, parse_config, problems_of
from zonegate.config.model import ClusterConfig
from zonegate.errors import ConfigError

DEMO_SERVICES = ("catalog", "orders", "users")
DemoService = Literal["catalog", "orders", "users"]
DEFAULT_FILE = "default_cluster.yaml"


def _loopback_network(value: str) -> str:
    try:
        network = ipaddress.IPv4Network(value, strict=True)
    except ValueError as exc:
        raise ValueError(f"expected an IPv4 network such as 127.0.1.0/24: {exc}") from None
    if not network.subnet_of(ipaddress.IPv4Network("127.0.0.0/8")):
        raise ValueError(f"{value} is not on loopback (127.0.0.0/8)")
    if network.num_addresses < 64:
        raise ValueError(f"{value} is too small; use a /26 or larger")
    return value


class ZoneSpec(StrictModel):
    """One zone: its region and the loopback range its processes listen on."""

    name: Name
    region: Name
    addresses: str = Field(description="loopback network of the zone, e.g. 127.0.1.0/24")

    _addresses = field_validator("addresses")(_loopback_network)


class EtcdSpec(StrictModel):
    """One etcd member per zone (a real raft cluster across the zones)."""

    enabled: bool = True
    heartbeat_ms: int = Field(default=100, ge=10, le=5000)
    election_ms: int = Field(default=1000, ge=50, le=50000)

    @model_validator(mode="after")
    def _raft(self) -> EtcdSpec:
        if self.election_ms < 5 * self.heartbeat_ms:
            raise ValueError("election_ms should be at least 5 x heartbeat_ms")
        return self


class NodeSpec(StrictModel):
    per_zone: int = Field(default=2, ge=1, le=16, description="gateway nodes in every zone")
    port: Port = Field(default=0, description="listener port; 0 = a free one per node")
    admin_port: Port = 0
    drain_grace_s: float = Field(default=0.5, ge=0, le=60)


class GlbSpec(StrictModel):
    replicas: int = Field(default=2, ge=0, le=8, description="GLB replicas (0: none)")
    port: Port = Field(default=0, description="client port; 0 = a free one per replica")
    admin_port: Port = 0


class BackendSpec(StrictModel):
    service: DemoService
    per_zone: int = Field(default=1, ge=1, le=8)
    port: Port = 0


class DashboardSpec(StrictModel):
    """The SLO dashboard (``zonegate slo serve``), when that command exists."""

    enabled: bool = True
    port: Port = 0


def _default_backends() -> list[BackendSpec]:
    return [BackendSpec(service=s) for s in DEMO_SERVICES]


class LocalSpec(StrictModel):
    """What runs on this machine."""

    zones: list[ZoneSpec] = Field(min_length=1, max_length=32)
    shared_addresses: str = Field(
        default="127.0.0.0/24", description="loopback network of the GLB and the supervisor"
    )
    nodes: NodeSpec = NodeSpec()
    glb: GlbSpec = GlbSpec()
    etcd: EtcdSpec = EtcdSpec()
    backends: list[BackendSpec] = Field(default_factory=_default_backends)
    dashboard: DashboardSpec = DashboardSpec()
    fault_proxies: FaultProxies = FaultProxies()
    start_timeout_s: Seconds = Field(default=30.0, description="per phase")
    stop_timeout_s: Seconds = Field(default=10.0, description="SIGKILL after this")

    _shared = field_validator("shared_addresses")(_loopback_network)

    @model_validator(mode="after")
    def _distinct(self) -> LocalSpec:
        names = [z.name for z in self.zones]
        if len(set(names)) != len(names):
            raise ValueError("zone names must be unique")
        nets = [ipaddress.IPv4Network(z.addresses) for z in self.zones]
        nets.append(ipaddress.IPv4Network(self.shared_addresses))
        for i, a in enumerate(nets):
            for b in nets[i + 1 :]:
                if a.overlaps(b):
                    raise ValueError(f"address ranges {a} and {b} overlap")
        services = [b.service for b in self.backends]
        if len(set(services)) != len(services):
            raise ValueError("each backend service may be listed once")
        return self

    def zone(self, name: str) -> ZoneSpec:
        for zone in self.zones:
            if zone.name == name:
                return zone
        raise KeyError(name)

    @property
    def regions(self) -> list[str]:
        return list(dict.fromkeys(z.region for z in self.zones))


class ClusterFile(StrictModel):
    """A parsed cluster file: the local topology and the validated gateway config."""

    version: Literal[1] = 1
    local: LocalSpec
    gateway: dict[str, Any] = Field(description="a zonegate cluster config document")

    def gateway_config(self) -> ClusterConfig:
        return parse_config(self.gateway)

    @property
    def cluster_name(self) -> str:
        return str(self.gateway.get("cluster", "zonegate"))


def _gateway_path(problem: str) -> str:
    return f"gateway {problem}" if problem.startswith("(") else f"gateway.{problem}"


def _gateway_problems(file: ClusterFile) -> list[str]:
    try:
        config = file.gateway_config()
    except ConfigError as exc:
        return [_gateway_path(p) for p in exc.problems]
    problems: list[str] = []
    zones = {z.name for z in file.local.zones}
    services = {b.service for b in file.local.backends}
    for i, cluster in enumerate(config.clusters):
        if cluster.service and not cluster.endpoints and cluster.service not in services:
            problems.append(
                f"gateway.clusters[{i}].service: {cluster.service!r} is not a demo backend of "
                f"local.backends ({', '.join(sorted(services)) or 'none'})"
            )
        for j, endpoint in enumerate(cluster.endpoints):
            if endpoint.zone and endpoint.zone not in zones:
                problems.append(
                    f"gateway.clusters[{i}].endpoints[{j}].zone: unknown zone {endpoint.zone!r}"
                )
    return problems


def parse_cluster_file(data: Any, source: str = "<cluster file>") -> ClusterFile:
    """Validate a parsed document; :class:`ClusterSpecError` lists every problem with its path."""
    if not isinstance(data, dict):
        raise ClusterSpecError([f"{source}: expected a mapping with local: and gateway:"])
    try:
        file = ClusterFile.model_validate(data)
    except ValidationError as exc:
        problems = problems_of(exc)
        gateway = data.get("gateway")
        if isinstance(gateway, dict):  # report the gateway's problems in the same run
            try:
                parse_config(gateway)
            except ConfigError as gateway_exc:
                problems += [_gateway_path(p) for p in gateway_exc.problems]
        raise ClusterSpecError(problems) from None
    problems = _gateway_problems(file)
    if problems:
        raise ClusterSpecError(problems)
    return file


def load_cluster_file(path: str | Path | None = None) -> ClusterFile:
    """Read and validate a cluster file; ``None`` gives the built-in default cluster."""
    if path is None:
        text = default_cluster_text()
        source = "built-in default cluster"
    else:
        source = str(path)
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise ClusterSpecError([f"{source}: cannot read: {exc.strerror or exc}"]) from None
        except UnicodeDecodeError:
            raise ClusterSpecError([f"{source}: not UTF-8 text"]) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ClusterSpecError([f"{source}: not valid YAML{where}"]) from None
    return parse_cluster_file(data, source)


def default_cluster_text() -> str:
    return resources.files("zonegate.cluster").joinpath(DEFAULT_FILE).read_text("utf-8")


__all__ = [
    "DEMO_SERVICES",
    "BackendSpec",
    "ClusterFile",
    "LocalSpec",
    "ZoneSpec",
    "format_loc",
    "load_cluster_file",
    "parse_cluster_file",
]
