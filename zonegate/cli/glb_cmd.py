"""``zonegate glb``: run one replica of the global load balancer."""

from __future__ import annotations

import argparse
import os
import socket
import sys
from pathlib import Path
from typing import Any

from zonegate.cli.config_cmd import report_config_error
from zonegate.cli.options import parse_hostport
from zonegate.config.loader import load_config
from zonegate.errors import ConfigError


def register(subparsers: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "glb",
        help="run a global load-balancer replica (the clients' entry point)",
        description=(
            "Run one GLB replica: choose a zone for each request by client region and zone "
            "health, fail over within about a second, fail back after a hold-down, retry "
            "idempotent requests on another node or zone. Nodes come from etcd registrations "
            "(--etcd) and/or zones[].static_nodes in the config."
        ),
    )
    parser.add_argument("-c", "--config", required=True, help="cluster config file (YAML)")
    parser.add_argument("--id", dest="glb_id", default=None, help="replica id (default: hostname)")
    parser.add_argument(
        "--listen", type=parse_hostport, default=("127.0.0.1", 8000), metavar="HOST:PORT"
    )
    parser.add_argument(
        "--admin",
        type=parse_hostport,
        default=("127.0.0.1", 9000),
        metavar="HOST:PORT",
        help="admin listener: /healthz /readyz /metrics /status",
    )
    parser.add_argument(
        "--etcd",
        default=os.environ.get("ZONEGATE_ETCD_ENDPOINTS"),
        help="etcd endpoints host:port[,host:port] for node discovery",
    )
    parser.add_argument(
        "--cookie-key-file",
        type=Path,
        default=None,
        help="secret that signs affinity cookies (share it between replicas)",
    )
    parser.set_defaults(handler=cmd_glb)
    return parser


def cmd_glb(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        report_config_error(exc, args.config)
        return 1
    if not config.zones:
        print(f"error: {args.config} declares no zones; the GLB needs `zones:`", file=sys.stderr)
        return 1
    key = b""
    if args.cookie_key_file is not None:
        try:
            key = args.cookie_key_file.read_bytes().strip()
        except OSError as exc:
            print(f"error: cannot read {args.cookie_key_file}: {exc.strerror}", file=sys.stderr)
            return 1
    from zonegate.glb.main import GlbOptions, run

    options = GlbOptions(
        glb_id=args.glb_id or socket.gethostname(),
        host=args.listen[0],
        port=args.listen[1],
        admin_host=args.admin[0],
        admin_port=args.admin[1],
        etcd=args.etcd,
        cookie_key=key,
    )
    try:
        return run(config, options)
    except OSError as exc:
        print(f"error: cannot start the GLB: {exc.strerror or exc}", file=sys.stderr)
        return 1
