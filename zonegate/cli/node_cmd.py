"""``zonegate node``: run one gateway node from a config file."""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
from typing import Any

from pydantic import ValidationError

from zonegate.cli.config_cmd import report_config_error
from zonegate.cli.options import parse_hostport
from zonegate.config.loader import load_config, problems_of
from zonegate.config.node import NodeSettings
from zonegate.errors import ConfigError, ZonegateError


def _ratio(value: str) -> float:
    try:
        ratio = float(value)
    except ValueError:
        ratio = -1.0
    if not 0.0 <= ratio <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a ratio between 0 and 1, got {value!r}")
    return ratio


def _seconds(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if seconds < 0:
        raise argparse.ArgumentTypeError(f"expected seconds (>= 0), got {value!r}")
    return seconds


def _admin_address(value: str) -> tuple[str, int] | None:
    return None if value.lower() in {"off", "none"} else parse_hostport(value)


def register(subparsers: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "node",
        help="run one gateway node",
        description=(
            "Run one gateway node: validate the config file, listen for HTTP/1.1 (or TLS) and "
            "proxy to the upstream clusters, with an admin listener (/healthz, /readyz, "
            "/metrics, /config, /status, POST /drain). A bad config file is reported in full "
            "and the node does not start. SIGTERM drains the node before it exits; SIGHUP "
            "reloads the TLS certificate and reopens the access log. Flags override the "
            "config's node settings."
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
        help="worker processes sharing the port through SO_REUSEPORT (default 1); worker i "
        "gets node id ID-wI and the admin port + i",
    )
    parser.add_argument("--reuse-port", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--worker-index", type=int, default=None, help=argparse.SUPPRESS)
    ops = parser.add_argument_group("operations")
    ops.add_argument(
        "--admin",
        type=_admin_address,
        default=False,
        metavar="HOST:PORT|off",
        help="admin listener address (default: node.admin, 127.0.0.1:9901); a non-loopback "
        "address needs a token",
    )
    ops.add_argument(
        "--admin-token-file",
        default=None,
        metavar="FILE",
        help="file holding the admin bearer token (default: $ZONEGATE_ADMIN_TOKEN)",
    )
    ops.add_argument(
        "--drain-grace",
        type=_seconds,
        default=None,
        metavar="SECONDS",
        help="on SIGTERM keep serving this long after readiness turns 503, then stop accepting",
    )
    ops.add_argument(
        "--drain-timeout",
        type=_seconds,
        default=None,
        metavar="SECONDS",
        help="then wait at most this long for in-flight requests (default 30)",
    )
    ops.add_argument(
        "--access-log", default=None, metavar="PATH|-", help="JSON access log file, - for stdout"
    )
    ops.add_argument(
        "--otlp-endpoint",
        default=None,
        metavar="URL",
        help="export spans over OTLP/HTTP (e.g. http://127.0.0.1:4318)",
    )
    ops.add_argument(
        "--trace-sample-ratio",
        type=_ratio,
        default=None,
        metavar="RATIO",
        help="share of new traces sampled (default 0.01; sampled parents are always followed)",
    )
    ops.add_argument("--tls-cert", default=None, metavar="FILE", help="PEM certificate chain")
    ops.add_argument("--tls-key", default=None, metavar="FILE", help="PEM private key")
    coord = parser.add_argument_group("coordination (etcd)")
    coord.add_argument(
        "--etcd",
        default=None,
        metavar="HOST:PORT,...",
        help="etcd endpoints: register this node, follow the cluster config (the file is the "
        "start and the fallback while etcd is down), take service endpoints from discovery",
    )
    coord.add_argument(
        "--advertise",
        type=parse_hostport,
        default=None,
        metavar="HOST:PORT",
        help="address registered in etcd for clients and the GLB (default: the listener's)",
    )
    coord.add_argument(
        "--lease-ttl",
        type=int,
        default=3,
        metavar="SECONDS",
        help="TTL of the registration lease (default 3)",
    )
    parser.set_defaults(handler=cmd_node)
    return parser


def node_settings(base: NodeSettings, args: argparse.Namespace) -> NodeSettings:
    """The config's node settings with the command-line overrides; ConfigError when invalid."""
    data = base.model_dump()
    if args.admin is None:
        data["admin"]["enabled"] = False
    elif args.admin is not False:
        data["admin"].update(enabled=True, host=args.admin[0], port=args.admin[1])
    if args.admin_token_file is not None:
        data["admin"]["token_file"] = args.admin_token_file
    if args.worker_index and data["admin"]["port"]:
        data["admin"]["port"] += args.worker_index
    if args.drain_grace is not None:
        data["drain"]["grace_s"] = args.drain_grace
    if args.drain_timeout is not None:
        data["drain"]["timeout_s"] = args.drain_timeout
    if args.access_log is not None:
        data["access_log"]["path"] = args.access_log
    if args.otlp_endpoint is not None:
        data["tracing"]["otlp_endpoint"] = args.otlp_endpoint
    if args.trace_sample_ratio is not None:
        data["tracing"]["sample_ratio"] = args.trace_sample_ratio
    if (args.tls_cert is None) != (args.tls_key is None):
        raise ConfigError(["--tls-cert and --tls-key go together"])
    if args.tls_cert is not None:
        tls = data["listener"].get("tls") or {}
        data["listener"]["tls"] = {**tls, "cert_file": args.tls_cert, "key_file": args.tls_key}
    try:
        return NodeSettings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError([f"node.{p}" for p in problems_of(exc)]) from None


def cmd_node(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        report_config_error(exc, args.config)
        return 1
    if args.workers < 1:
        print("error: --workers must be at least 1", file=sys.stderr)
        return 2
    if args.lease_ttl < 1:
        print("error: --lease-ttl must be at least 1 second", file=sys.stderr)
        return 2
    if args.workers > 1:
        return _run_workers(args)
    try:
        settings = node_settings(config.node, args)
    except ConfigError as exc:
        report_config_error(exc, "the command line")
        return 2
    from zonegate.node.main import NodeOptions, run

    node_id = args.node_id or socket.gethostname()
    if args.worker_index is not None:
        node_id = f"{node_id}-w{args.worker_index}"
    host, port = args.listen if args.listen else (None, None)
    options = NodeOptions(
        node_id=node_id,
        zone=args.zone or config.node.zone,
        host=host,
        port=port,
        reuse_port=args.reuse_port,
        settings=settings,
        etcd=args.etcd,
        advertise=f"{args.advertise[0]}:{args.advertise[1]}" if args.advertise else None,
        lease_ttl=args.lease_ttl,
    )
    try:
        return run(config, options)
    except ZonegateError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: cannot start the node: {exc.strerror or exc}", file=sys.stderr)
        return 1


def _run_workers(args: argparse.Namespace) -> int:
    """Start N single-worker nodes on one SO_REUSEPORT listener; forward signals."""
    argv = sys.argv[1:]
    if "--workers" in argv:
        i = argv.index("--workers")
        argv = argv[:i] + argv[i + 2 :]
    argv = [a for a in argv if not a.startswith("--workers")]
    command = [sys.executable, "-m", "zonegate.cli.main", *argv, "--reuse-port"]
    workers = [subprocess.Popen([*command, "--worker-index", str(i)]) for i in range(args.workers)]

    def forward(signum: int, _frame: object) -> None:
        for worker in workers:
            if worker.poll() is None:
                os.kill(worker.pid, signum)

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, forward)
    return max(worker.wait() for worker in workers)
