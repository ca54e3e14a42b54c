"""Place fault proxies on the links of a local cluster plan (``local.fault_proxies``).

The supervisor calls :func:`place_fault_proxies` on the plan it built: one
``zonegate toxiproxy`` process (kind ``faultproxy``, started before the
backends and nodes, stopped after them) gets a proxy per connection path, and
the processes and the gateway config are rewritten to go through them. Proxy
names are ``<link>:<zone>:<target>`` (``glb:eu-west-1a:eu-west-1a-1``), so the
link ``glb:eu-west-1a`` designates all of that zone's proxies. Proxies listen
on the zone's own loopback range (offsets 150-249), so addresses still tell
zones apart.
"""

from __future__ import annotations

import ipaddress
import json
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from zonegate.chaos.environment import FAULTPROXY_STATE
from zonegate.chaos.links_spec import FaultProxies
from zonegate.cluster.plan import (
    ETCD,
    GLB,
    NODE,
    HealthCheck,
    Plan,
    PortPicker,
    ProcessSpec,
    shared_host,
)
from zonegate.cluster.spec import ClusterFile

FAULTPROXY_KIND = "faultproxy"
PROCESS_NAME = "toxiproxy"
CONFIG_FILE = "faultproxy-config.json"
ZONE_OFFSET = 150
SHARED_OFFSET = 40


class _Hosts:
    """Hands out listen hosts per zone (offset 150 upwards) for the proxies."""

    def __init__(self, file: ClusterFile) -> None:
        self.nets = {z.name: ipaddress.IPv4Network(z.addresses) for z in file.local.zones}
        self.used: dict[str, int] = {}

    def next(self, zone: str) -> str:
        index = self.used.get(zone, 0)
        self.used[zone] = index + 1
        net = self.nets[zone]
        return str(net.network_address + ZONE_OFFSET + index % 100)


def _replace_flag(argv: Sequence[str], flag: str, value: str | None) -> tuple[str, ...]:
    """``argv`` with ``flag VALUE`` replaced by ``flag value`` (removed when value is None)."""
    out: list[str] = []
    skip = False
    for index, item in enumerate(argv):
        if skip:
            skip = False
            continue
        if item == flag and index + 1 < len(argv):
            skip = True
            if value is not None:
                out += [flag, value]
            continue
        out.append(item)
    return tuple(out)


def place_fault_proxies(
    plan: Plan, file: ClusterFile, run_dir: Path, pick: PortPicker, spec: FaultProxies
) -> tuple[Plan, list[dict[str, Any]]]:
    """The plan with the fault proxy process and every path rerouted through it.

    Returns the plan and the proxies (Toxiproxy ``-config`` entries). Pure: the
    caller writes the files (:func:`write_fault_proxy_files`).
    """
    hosts = _Hosts(file)
    proxies: list[dict[str, Any]] = []

    def proxy(name: str, zone: str, upstream: str) -> str:
        host = hosts.next(zone)
        listen = f"{host}:{pick(host, 0)}"
        proxies.append({"name": name, "listen": listen, "upstream": upstream, "enabled": True})
        return listen

    processes = list(plan.processes)
    gateway = json.loads(json.dumps(plan.gateway))
    if "glb" in spec.links:
        static: dict[str, dict[str, str]] = {}
        for node in (p for p in processes if p.kind == NODE):
            address = proxy(f"glb:{node.zone}:{node.name}", node.zone, node.address)
            admin = node.admin and proxy(
                f"glb:{node.zone}:{node.name}:admin", node.zone, node.admin
            )
            static[node.name] = {"id": node.name, "address": address, "admin": admin or address}
        for zone in gateway.get("zones", []):
            nodes = [static[n] for n in static if plan.get(n).zone == zone.get("name")]
            if nodes:
                zone["static_nodes"] = nodes
        processes = [
            replace(p, argv=_replace_flag(p.argv, "--etcd", None)) if p.kind == GLB else p
            for p in processes
        ]
    if "etcd" in spec.links:
        members = [p for p in processes if p.kind == ETCD]
        by_zone: dict[str, str] = {}
        for zone in file.local.zones:
            by_zone[zone.name] = ",".join(
                proxy(f"etcd:{zone.name}:{m.name}", zone.name, m.extra["client"]) for m in members
            )
        processes = [
            replace(p, argv=_replace_flag(p.argv, "--etcd", by_zone[p.zone]))
            if p.kind == NODE and members
            else p
            for p in processes
        ]
    if "backends" in spec.links:
        rerouted: dict[str, str] = {}
        for backend in (p for p in processes if p.kind == "backend"):
            name = f"backends:{backend.zone}:{backend.name}"
            rerouted[backend.address] = proxy(name, backend.zone, backend.address)
        for cluster in gateway.get("clusters", []):
            endpoints = cluster.get("endpoints") or []
            if endpoints and all(e.get("address") in rerouted for e in endpoints):
                for endpoint in endpoints:
                    endpoint["address"] = rerouted[endpoint["address"]]
                cluster.pop("service", None)  # discovery would hand out direct addresses
    host = shared_host(file.local.shared_addresses, SHARED_OFFSET)
    port = pick(host, spec.api_port)
    config_path = run_dir / CONFIG_FILE
    argv = (
        sys.executable,
        "-m",
        "zonegate.cli.main",
        "toxiproxy",
        "--host",
        host,
        "--port",
        str(port),
        "--config",
        str(config_path),
    )
    api = ProcessSpec(
        name=PROCESS_NAME,
        kind=FAULTPROXY_KIND,
        zone="",
        region="",
        argv=argv,
        host=host,
        port=port,
        health=HealthCheck("http", url=f"http://{host}:{port}/version"),
        extra={"proxies": len(proxies)},
    )
    new_plan = replace(plan, processes=(*processes, api), gateway=gateway)
    return new_plan, proxies


def write_fault_proxy_files(run_dir: Path, plan: Plan, proxies: list[dict[str, Any]]) -> None:
    """The proxies for ``-config`` and ``faultproxy.json`` (the API URL drills read)."""
    api = plan.get(PROCESS_NAME)
    (run_dir / CONFIG_FILE).write_text(json.dumps(proxies, indent=2) + "\n", encoding="utf-8")
    state = {"api": api.url, "proxies": [p["name"] for p in proxies]}
    (run_dir / FAULTPROXY_STATE).write_text(json.dumps(state, indent=2) + "\n", encoding="utf-8")


def apply(plan: Plan, file: ClusterFile, run_dir: Path, pick: PortPicker) -> Plan:
    """The supervisor's hook: no-op unless ``local.fault_proxies.enabled``."""
    spec: FaultProxies | None = getattr(file.local, "fault_proxies", None)
    if spec is None or not spec.enabled:
        return plan
    new_plan, proxies = place_fault_proxies(plan, file, run_dir, pick, spec)
    run_dir.mkdir(parents=True, exist_ok=True)
    write_fault_proxy_files(run_dir, new_plan, proxies)
    return new_plan
