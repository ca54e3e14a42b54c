"""``zonegate``: one command line with subcommands.

Each subcommand lives in its own module with ``register(subparsers)``; the
list below is the registry (explicit, no discovery magic).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from types import ModuleType

from zonegate import __version__
from zonegate.cli import (
    catalog_cmd,
    config_cmd,
    consumer_cmd,
    ctl_cmd,
    demo_backend_cmd,
    drill_cmd,
    glb_cmd,
    logs_cmd,
    node_cmd,
    routes_cmd,
    service_cmd,
    slo_cmd,
    status_cmd,
    toxiproxy_cmd,
    up_cmd,
)

COMMANDS: tuple[ModuleType, ...] = (
    node_cmd,
    glb_cmd,
    config_cmd,
    toxiproxy_cmd,
    slo_cmd,
    consumer_cmd,
    service_cmd,
    status_cmd,
    up_cmd,
    logs_cmd,
    ctl_cmd,
    demo_backend_cmd,
    drill_cmd,
    routes_cmd,
    catalog_cmd,
)

Handler = Callable[[argparse.Namespace], int]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="zonegate",
        description=(
            "zonegate: a multi-zone API gateway cluster with failover drills and SLO monitoring."
        ),
    )
    parser.add_argument("--version", action="version", version=f"zonegate {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in COMMANDS:
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    try:
        return handler(args)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
