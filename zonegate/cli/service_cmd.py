"""``zonegate service``: register a backend instance in etcd, list instances."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import sys
from typing import Any

from rich.console import Console
from rich.table import Table

from zonegate.cli.etcd_options import add_etcd_options, keys_of, run_etcd_command
from zonegate.cli.options import parse_hostport
from zonegate.coordinator.client import EtcdClient
from zonegate.coordinator.keys import segment
from zonegate.coordinator.records import ServiceEndpoint
from zonegate.coordinator.registry import DEFAULT_TTL, ServiceRegistration

ENV_ZONE = "ZONEGATE_ZONE"


def _segment_arg(what: str) -> Any:
    def check(value: str) -> str:
        try:
            return segment(value, what)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    return check


def _meta(value: str) -> tuple[str, str]:
    key, sep, val = value.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {value!r}")
    return key, val


def register(subparsers: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "service", help="register backend instances in etcd (service discovery)"
    )
    sub = parser.add_subparsers(dest="service_command", metavar="ACTION", required=True)

    reg = sub.add_parser(
        "register",
        help="register one instance and keep it registered until Ctrl-C / SIGTERM",
        description="Registers NAME at ADDRESS under services/NAME/ZONE/ID, bound to a lease "
        "kept alive while this runs. Ctrl-C or SIGTERM revokes it at once; if this process "
        "dies, the registration expires after the TTL.",
    )
    reg.add_argument("name", type=_segment_arg("service name"), help="service name")
    reg.add_argument(
        "--address", required=True, type=parse_hostport, help="HOST:PORT of the instance"
    )
    reg.add_argument(
        "--zone",
        type=_segment_arg("zone"),
        default=os.environ.get(ENV_ZONE, "local"),
        help=f"zone of the instance (default: ${ENV_ZONE} or 'local')",
    )
    reg.add_argument(
        "--id",
        type=_segment_arg("instance id"),
        default=f"{socket.gethostname()}-{os.getpid()}",
        help="instance id (default: HOSTNAME-PID)",
    )
    reg.add_argument(
        "--ttl", type=int, default=DEFAULT_TTL, help=f"lease TTL in seconds (default {DEFAULT_TTL})"
    )
    reg.add_argument(
        "--meta", type=_meta, action="append", default=[], metavar="KEY=VALUE", help="metadata"
    )
    add_etcd_options(reg)
    reg.set_defaults(handler=cmd_register)

    listing = sub.add_parser("list", help="list registered instances")
    listing.add_argument("name", nargs="?", help="only this service")
    listing.add_argument("--json", action="store_true", help="print JSON")
    add_etcd_options(listing)
    listing.set_defaults(handler=cmd_list)
    return parser


def cmd_register(args: argparse.Namespace) -> int:
    if args.ttl < 1:
        print("error: --ttl must be at least 1 second", file=sys.stderr)
        return 2
    host, port = args.address
    endpoint = ServiceEndpoint(args.name, args.zone, args.id, f"{host}:{port}", dict(args.meta))

    async def run(client: EtcdClient) -> int:
        client.start()  # probe in the background: notice a failed member early
        registration = ServiceRegistration(client, keys_of(args), endpoint, ttl=args.ttl)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        registration.start()
        name = f"{endpoint.service}/{endpoint.zone}/{endpoint.instance_id}"
        if not await registration.wait_registered(args.etcd_timeout * 2):
            print(f"warning: etcd not reachable yet; {name} registers when it is", flush=True)
        await _wait_either(registration, stop)
        if not stop.is_set():
            print(
                f"registered {name} at {endpoint.address} (ttl {args.ttl}s); Ctrl-C to deregister",
                flush=True,
            )
        await stop.wait()
        await registration.stop(revoke=True)
        print(f"deregistered {name}", flush=True)
        return 0

    return run_etcd_command(args, run)


async def _wait_either(registration: ServiceRegistration, stop: asyncio.Event) -> None:
    waiters = {
        asyncio.create_task(registration.wait_registered(None)),
        asyncio.create_task(stop.wait()),
    }
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()


def cmd_list(args: argparse.Namespace) -> int:
    keys = keys_of(args)

    async def run(client: EtcdClient) -> int:
        prefix = keys.service_prefix(args.name) if args.name else keys.services_prefix
        found = await client.get_prefix(prefix)
        endpoints = []
        for kv in found.kvs:
            try:
                endpoints.append(ServiceEndpoint.from_json(kv.value))
            except ValueError:
                continue
        if args.json:
            json.dump([json.loads(e.to_json()) for e in endpoints], sys.stdout, indent=2)
            print()
            return 0
        table = Table(title=f"services of cluster {keys.cluster!r}")
        for column in ("service", "zone", "id", "address"):
            table.add_column(column)
        for e in endpoints:
            table.add_row(e.service, e.zone, e.instance_id, e.address)
        Console().print(table)
        return 0

    return run_etcd_command(args, run)
