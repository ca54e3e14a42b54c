"""``zonegate node``: run one gateway node from a config file."""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
from typing import Any

from zonegate.cli.config_cmd import report_config_error
from zonegate.cli.options import parse_hostport
from zonegate.config.loader import load_config
from zonegate.errors import ConfigError


def register(subparsers: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "node",
        help="run one gateway node",
        description=(
            "Run one gateway node: validate the config file, listen for HTTP/1.1 and proxy "
            "to the upstream clusters. A bad config file is reported in full and the node "
            "does not start. SIGTERM drains the node before it exits."
        ),
    )
    parser.add_argument("-c", "--config", required=True, help="cluster config file (YAML)")
    parser.add_argument("--id", dest="node_id", default=None, help="node id (default: hostname)")
    parser.add_argument("--zone", default=None, help="zone of this node (default: node.zone)")
    parser.add_argument(
        "--listen",
        type=parse_hostport,
        default=None,
        metavar="HOST:PORT",
        help="listener address (default: node.listener in the config)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="worker processes sharing the port through SO_REUSEPORT (default 1)",
    )
    parser.add_argument("--reuse-port", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument(
        "--drain-grace",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="on SIGTERM keep serving this long before closing the listener",
    )
    parser.set_defaults(handler=cmd_node)
    return parser


def cmd_node(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        report_config_error(exc, args.config)
        return 1
    if args.workers < 1:
        print("error: --workers must be at least 1", file=sys.stderr)
        return 2
    if args.workers > 1:
        return _run_workers(args)
    from zonegate.node.main import NodeOptions, run

    host, port = args.listen if args.listen else (None, None)
    options = NodeOptions(
        node_id=args.node_id or socket.gethostname(),
        zone=args.zone or config.node.zone,
        host=host,
        port=port,
        reuse_port=args.reuse_port,
        drain_grace_s=args.drain_grace,
    )
    try:
        return run(config, options)
    except OSError as exc:
        print(f"error: cannot start the node: {exc.strerror or exc}", file=sys.stderr)
        return 1


def _run_workers(args: argparse.Namespace) -> int:
    """Start N single-worker nodes on one SO_REUSEPORT listener; forward signals."""
    argv = [a for a in sys.argv[1:] if not a.startswith("--workers")]
    if "--workers" in sys.argv:
        i = sys.argv.index("--workers")
        argv = sys.argv[1:i] + sys.argv[i + 2 :]
    command = [sys.executable, "-m", "zonegate.cli.main", *argv, "--reuse-port"]
    workers = [subprocess.Popen(command) for _ in range(args.workers)]

    def forward(signum: int, _frame: object) -> None:
        for worker in workers:
            if worker.poll() is None:
                os.kill(worker.pid, signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    return max(worker.wait() for worker in workers)
