"""``zonegate demo-backend``: run one demo backend (catalog, orders or users)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from zonegate.cli.options import parse_hostport


def register(subparsers: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "demo-backend",
        help="run a demo backend service (catalog, orders, users)",
        description=(
            "Run one demo backend: catalog (read-mostly JSON), orders (POST with "
            "Idempotency-Key dedup) or users (login sessions). With --etcd, orders and "
            "sessions are kept in etcd (shared across zones) and the instance registers "
            "under services/<service>/<zone>/<id>. Every backend has /healthz and a fault "
            "knob: POST /_fault {error_rate, error_status, latency_ms, hang, include_health}, "
            "DELETE /_fault."
        ),
    )
    parser.add_argument("--service", required=True, choices=("catalog", "orders", "users"))
    parser.add_argument("--zone", default="local", help="zone of this instance")
    parser.add_argument("--id", dest="instance_id", default=None, help="instance id")
    parser.add_argument(
        "--listen",
        type=parse_hostport,
        default=("127.0.0.1", 0),
        metavar="HOST:PORT",
        help="address to listen on (default 127.0.0.1, a free port)",
    )
    parser.add_argument("--etcd", default=None, help="etcd endpoints host:port[,host:port]")
    parser.add_argument("--cluster", default="zonegate", help="cluster name (etcd key prefix)")
    parser.set_defaults(handler=cmd_demo_backend)
    return parser


def cmd_demo_backend(args: argparse.Namespace) -> int:
    from zonegate.cluster.demo.app import BackendOptions, run

    host, port = args.listen
    options = BackendOptions(
        service=args.service,
        zone=args.zone,
        instance_id=args.instance_id or f"{args.service}-{args.zone}",
        host=host,
        port=port,
        etcd=args.etcd,
        cluster=args.cluster,
    )
    try:
        return run(options)
    except OSError as exc:
        print(f"error: cannot listen on {host}:{port}: {exc.strerror or exc}", file=sys.stderr)
        return 1
