"""``zonegate status``: zones, nodes (health, config revision), services, leader."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from rich.console import Console
from rich.table import Table

from zonegate.cli.etcd_options import add_etcd_options, keys_of, run_etcd_command
from zonegate.coordinator.client import EtcdClient
from zonegate.coordinator.election import current_leader
from zonegate.coordinator.keys import Keys
from zonegate.coordinator.records import NodeInfo, ServiceEndpoint
from zonegate.coordinator.summary import build_summary


def register(subparsers: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "status", help="show zones, nodes, services and the leader of a cluster (from etcd)"
    )
    parser.add_argument("--json", action="store_true", help="print JSON")
    add_etcd_options(parser)
    parser.set_defaults(handler=cmd_status)
    return parser


async def collect(client: EtcdClient, keys: Keys) -> dict[str, Any]:
    """Everything ``status`` shows, read live (not from the leader's possibly old summary)."""
    nodes: list[NodeInfo] = []
    for kv in (await client.get_prefix(keys.nodes_prefix)).kvs:
        try:
            nodes.append(NodeInfo.from_json(kv.value))
        except ValueError:
            continue
    services: list[ServiceEndpoint] = []
    for kv in (await client.get_prefix(keys.services_prefix)).kvs:
        try:
            services.append(ServiceEndpoint.from_json(kv.value))
        except ValueError:
            continue
    config = await client.get(keys.config)
    leader = await current_leader(client, keys)
    members = await client.members()
    summary = build_summary(
        nodes,
        services,
        config_revision=config.mod_revision if config is not None else 0,
        leader=leader.name if leader is not None else "",
        fencing_token=leader.create_revision if leader is not None else 0,
        now=time.time(),
    )
    published = await client.get(keys.summary)
    summary["leader_summary_at"] = _published_at(published.value) if published else None
    summary["node_list"] = [json.loads(n.to_json()) for n in nodes]
    summary["service_list"] = [json.loads(s.to_json()) for s in services]
    summary["etcd_members"] = [
        {"name": m.name, "client_urls": list(m.client_urls), "leader": m.is_leader} for m in members
    ]
    return summary


def _published_at(value: bytes) -> float | None:
    try:
        stamp = json.loads(value).get("updated_at")
    except (ValueError, AttributeError):
        return None
    return float(stamp) if isinstance(stamp, int | float) else None


def cmd_status(args: argparse.Namespace) -> int:
    from zonegate.cluster.status import local_cluster, local_json, render_local

    local = local_cluster(args)  # `zonegate up`'s cluster: its etcd by default, its processes
    if local is not None and not args.json:
        render_local(local)
    keys = keys_of(args)

    async def run(client: EtcdClient) -> int:
        status = await collect(client, keys)
        status["cluster"] = keys.cluster
        if local is not None:
            status["local"] = local_json(local)
        if args.json:
            json.dump(status, sys.stdout, indent=2, sort_keys=True)
            print()
        else:
            render(status)
        return 0

    return run_etcd_command(args, run)


def render(status: dict[str, Any]) -> None:
    console = Console()
    leader = status["leader"] or "[red]none[/red]"
    converged = "[green]yes[/green]" if status["converged"] else "[yellow]no[/yellow]"
    console.print(
        f"cluster [bold]{status['cluster']}[/bold]  leader {leader} "
        f"(fencing token {status['fencing_token']})  config revision "
        f"{status['config_revision']}  converged {converged}"
    )
    zones = Table(title="zones")
    for column in ("zone", "nodes", "serving", "config revisions (rev: nodes)", "converged"):
        zones.add_column(column)
    for name, zone in status["zones"].items():
        revisions = ", ".join(f"{rev}: {n}" for rev, n in zone["config_revisions"].items())
        zones.add_row(
            name, str(zone["nodes"]), str(zone["serving"]), revisions, _yes(zone["converged"])
        )
    console.print(zones)
    nodes = Table(title="nodes")
    for column in ("zone", "node", "address", "admin", "state", "config rev", "version", "up"):
        nodes.add_column(column)
    now = time.time()
    for node in sorted(status["node_list"], key=lambda n: (n["zone"], n["node_id"])):
        up = f"{now - node['started_at']:.0f}s" if node["started_at"] else "-"
        rev = str(node["config_revision"])
        if node["config_revision"] != status["config_revision"]:
            rev = f"[yellow]{rev}[/yellow]"
        nodes.add_row(
            node["zone"], node["node_id"], node["address"], node["admin_address"],
            node["state"], rev, node["version"], up,
        )  # fmt: skip
    console.print(nodes)
    services = Table(title="services")
    for column in ("service", "zone", "instances"):
        services.add_column(column)
    for name, per_zone in status["services"].items():
        for zone, count in per_zone.items():
            services.add_row(name, zone, str(count))
    console.print(services)
    members = ", ".join(
        f"{m['name']}{' (raft leader)' if m['leader'] else ''}" for m in status["etcd_members"]
    )
    console.print(f"etcd members: {members}")


def _yes(value: bool) -> str:
    return "[green]yes[/green]" if value else "[yellow]no[/yellow]"
