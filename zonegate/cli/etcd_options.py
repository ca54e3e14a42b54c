"""``--etcd`` / ``--cluster`` options and running an etcd command with clear errors.

Endpoints come from ``--etcd`` (alias ``--endpoints``), else
``$ZONEGATE_ETCD_ENDPOINTS``, else ``127.0.0.1:2379``; the cluster (key prefix)
from ``--cluster``, else ``$ZONEGATE_CLUSTER``, else ``zonegate``. An etcd that
cannot be reached is one line on stderr and exit status 1, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Awaitable, Callable

from zonegate.coordinator.client import DEFAULT_ENDPOINT, EtcdClient
from zonegate.coordinator.errors import CoordinatorError, EtcdUnavailableError
from zonegate.coordinator.keys import Keys

ENV_ENDPOINTS = "ZONEGATE_ETCD_ENDPOINTS"
ENV_CLUSTER = "ZONEGATE_CLUSTER"
DEFAULT_CLUSTER = "zonegate"


def add_etcd_options(parser: argparse.ArgumentParser, *, cluster_help: str = "") -> None:
    group = parser.add_argument_group("etcd")
    group.add_argument(
        "--etcd",
        "--endpoints",
        dest="etcd",
        metavar="HOST:PORT[,HOST:PORT...]",
        help=f"etcd endpoints (default: ${ENV_ENDPOINTS} or {DEFAULT_ENDPOINT})",
    )
    group.add_argument(
        "--cluster",
        help=cluster_help
        or f"cluster name, the etcd key prefix (default: ${ENV_CLUSTER} or {DEFAULT_CLUSTER!r})",
    )
    group.add_argument(
        "--etcd-timeout",
        type=float,
        default=2.0,
        metavar="SECONDS",
        help="timeout of each etcd request (default: 2)",
    )


def endpoints_of(args: argparse.Namespace) -> str:
    return str(args.etcd or os.environ.get(ENV_ENDPOINTS) or DEFAULT_ENDPOINT)


def cluster_of(args: argparse.Namespace, default: str | None = None) -> str:
    return str(args.cluster or os.environ.get(ENV_CLUSTER) or default or DEFAULT_CLUSTER)


def keys_of(args: argparse.Namespace, default_cluster: str | None = None) -> Keys:
    return Keys(cluster_of(args, default_cluster))


def connect(args: argparse.Namespace, *, probe: bool = False) -> EtcdClient:
    """A client for one command (no background probe unless asked)."""
    return EtcdClient(
        endpoints_of(args),
        timeout=args.etcd_timeout,
        retry_for=args.etcd_timeout,
        probe_interval=1.0 if probe else None,
    )


def run_etcd_command(
    args: argparse.Namespace, command: Callable[[EtcdClient], Awaitable[int]]
) -> int:
    """Run ``command`` with a connected client; etcd and input errors become one line."""
    try:
        client = connect(args)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    async def main() -> int:
        async with client:
            return await command(client)

    try:
        return asyncio.run(main())
    except EtcdUnavailableError as exc:
        reason = exc.message
        if reason.startswith("cannot reach etcd (") and reason.endswith(")"):
            reason = reason[len("cannot reach etcd (") : -1]
        print(
            f"error: cannot reach etcd at {', '.join(client.endpoints)}: {reason}\n"
            f"  start etcd, or point --etcd / ${ENV_ENDPOINTS} at a running one",
            file=sys.stderr,
        )
        return 1
    except (CoordinatorError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
