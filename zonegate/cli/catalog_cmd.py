"""``zonegate catalog``: every API of the cluster, by owning team, with live health.

By default the catalog is read from etcd (the platform config merged with the
teams' fragments, as the nodes build it) and health comes from the admin
``/status`` of every registered node; ``--config FILE`` reads a file instead.
``--json`` prints the catalog as JSON, ``--openapi TEAM`` the team's OpenAPI
summary, ``--serve HOST:PORT`` serves the catalog page.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Awaitable
from typing import Any

from aiohttp import web
from rich.console import Console
from rich.table import Table

from zonegate.cli.etcd_options import add_etcd_options, keys_of, run_etcd_command
from zonegate.cli.options import parse_hostport
from zonegate.config.loader import load_config
from zonegate.coordinator.client import EtcdClient
from zonegate.errors import ConfigError, ZonegateError
from zonegate.node.delivery.catalog import Catalog, CatalogTeam, SLOView
from zonegate.node.delivery.catalog_page import catalog_app
from zonegate.node.delivery.catalog_source import (
    CatalogSource,
    EtcdCatalogSource,
    StaticCatalogSource,
)
from zonegate.node.delivery.openapi import openapi_summary


def register(subparsers: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "catalog",
        help="list every API: routes, owning team, versions and weights, policies, health, SLOs",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    out = parser.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="print the catalog as JSON")
    out.add_argument("--openapi", metavar="TEAM", help="print TEAM's OpenAPI summary (JSON)")
    out.add_argument(
        "--serve", type=parse_hostport, metavar="HOST:PORT", help="serve the catalog page"
    )
    parser.add_argument("--config", metavar="FILE", help="read this config file, not etcd")
    parser.add_argument(
        "--slo", action="append", default=[], metavar="FILE", help="SLO file(s) to attach"
    )
    parser.add_argument(
        "--admin",
        action="append",
        default=[],
        metavar="URL",
        help="node admin address for live health (repeatable; etcd-registered nodes are added)",
    )
    parser.add_argument(
        "--admin-token-file",
        metavar="FILE",
        help="admin bearer token (default: $ZONEGATE_ADMIN_TOKEN)",
    )
    parser.add_argument("--no-health", action="store_true", help="skip the live health")
    add_etcd_options(parser)
    parser.set_defaults(handler=cmd_catalog)
    return parser


def _slos(paths: list[str]) -> list[SLOView]:
    if not paths:
        return []
    from zonegate.slo.loader import load_slo_files

    return list(load_slo_files(paths).slos)


def _token(path: str | None) -> str | None:
    if path is None:
        return os.environ.get("ZONEGATE_ADMIN_TOKEN") or None
    with open(path, encoding="utf-8") as fh:
        return fh.read().strip() or None


def print_catalog(catalog: Catalog, console: Console | None = None) -> None:
    console = console or Console()
    console.print(
        f"[bold]Service catalog of {catalog.cluster}[/bold] (config revision {catalog.revision}, "
        + (
            f"live health from {len(catalog.health_sources)} node(s))"
            if catalog.health_sources
            else "configured endpoints, no live health)"
        )
    )
    for name, problems in catalog.dropped.items():
        console.print(f"[yellow]fragment of team {name} left out:[/yellow] {'; '.join(problems)}")
    for error in catalog.health_errors:
        console.print(f"[yellow]health unavailable:[/yellow] {error}")
    for team in catalog.teams:
        console.print(_team_table(team))


def _team_table(team: CatalogTeam) -> Table:
    owns = ", ".join([*team.path_prefixes, *team.hosts])
    caption = " · ".join(x for x in (team.description, team.contact, owns) if x)
    table = Table(title=f"team {team.name}", caption=caption or None, title_justify="left")
    columns = ("route", "paths", "versions (weight) and health", "delivery", "auth", "limits")
    for column in (*columns, "SLOs"):
        table.add_column(column)
    for route in team.routes:
        versions = []
        for v in route.versions:
            share = f" {v.share:g}%" if v.share is not None else ""
            zones = ", ".join(
                f"{z.zone or '-'} {z.healthy}/{z.total}"
                if z.healthy is not None
                else f"{z.zone or '-'} {z.total} hosts"
                for z in v.zones
            )
            versions.append(f"{v.cluster}{share} [{zones}]")
        if route.sticky:
            versions.append(f"sticky: {route.sticky}")
        delivery = [*route.canary, *([f"mirror {route.mirror}"] if route.mirror else [])]
        name = route.name + (f"\n{route.description}" if route.description else "")
        methods = " ".join(route.methods) or "any"
        table.add_row(
            name,
            f"{route.paths}\n{methods}" + (f"\n{', '.join(route.hosts)}" if route.hosts else ""),
            "\n".join(versions),
            "\n".join(delivery) or "-",
            route.auth + (f"\n{route.authz}" if route.authz else ""),
            "\n".join(route.rate_limits) or "-",
            "\n".join(route.slos) or "-",
        )
    return table


def _emit(args: argparse.Namespace, catalog: Catalog) -> int:
    if args.openapi:
        team = catalog.team(args.openapi)
        if team is None:
            known = ", ".join(t.name for t in catalog.teams) or "none"
            print(
                f"error: no team {args.openapi!r} in the catalog (teams: {known})", file=sys.stderr
            )
            return 1
        json.dump(openapi_summary(catalog, team), sys.stdout, indent=2)
        print()
    elif args.json:
        json.dump(catalog.to_json(), sys.stdout, indent=2)
        print()
    else:
        print_catalog(catalog)
    return 0


async def _serve(source: CatalogSource, host: str, port: int) -> int:
    runner = web.AppRunner(catalog_app(source), access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
        print(f"zonegate catalog on http://{host}:{port}/", flush=True)
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
    return 0


def cmd_catalog(args: argparse.Namespace) -> int:
    try:
        slos = _slos(args.slo)
        token = _token(args.admin_token_file)
    except (ZonegateError, OSError) as exc:
        print(f"error: {getattr(exc, 'message', None) or exc}", file=sys.stderr)
        return 1
    admin = [] if args.no_health else list(args.admin)

    async def use(source: CatalogSource) -> int:
        if args.serve:
            return await _serve(source, *args.serve)
        try:
            catalog = await source.catalog()
        except ZonegateError as exc:
            print(f"error: {exc.message}", file=sys.stderr)
            return 1
        return _emit(args, catalog)

    if args.config:
        try:
            config = load_config(args.config)
        except ConfigError as exc:
            from zonegate.cli.config_cmd import report_config_error

            report_config_error(exc, args.config)
            return 1
        static = StaticCatalogSource(config, slos=slos, admin_urls=admin, admin_token=token)
        return _run(use(static))
    keys = keys_of(args)

    async def from_etcd(client: EtcdClient) -> int:
        source = EtcdCatalogSource(
            client,
            keys,
            slos=slos,
            admin_urls=admin,
            admin_token=token,
            discover_nodes=not args.no_health,
        )
        return await use(source)

    return run_etcd_command(args, from_etcd)


def _run(coro: Awaitable[int]) -> int:
    async def main() -> int:
        return await coro

    try:
        return asyncio.run(main())
    except KeyboardInterrupt:
        return 130
