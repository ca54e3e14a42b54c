"""``zonegate``: one command line with subcommands.

Each subcommand lives in its own module with ``register(subparsers)``; the
list below is the registry (explicit, no discovery magic).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from importlib import import_module

from zonegate import __version__

#: command -> the module that registers it (``register(subparsers)``). Only the
#: module of the command being run is imported, so ``zonegate ctl ...`` does not
#: pay for importing the SLO engine or the etcd client; ``--help`` imports all.
COMMANDS: dict[str, str] = {
    "node": "zonegate.cli.node_cmd",
    "glb": "zonegate.cli.glb_cmd",
    "config": "zonegate.cli.config_cmd",
    "toxiproxy": "zonegate.cli.toxiproxy_cmd",
    "slo": "zonegate.cli.slo_cmd",
    "consumer": "zonegate.cli.consumer_cmd",
    "service": "zonegate.cli.service_cmd",
    "status": "zonegate.cli.status_cmd",
    "up": "zonegate.cli.up_cmd",
    "down": "zonegate.cli.up_cmd",
    "logs": "zonegate.cli.logs_cmd",
    "ctl": "zonegate.cli.ctl_cmd",
    "demo-backend": "zonegate.cli.demo_backend_cmd",
    "drill": "zonegate.cli.drill_cmd",
    "routes": "zonegate.cli.routes_cmd",
    "catalog": "zonegate.cli.catalog_cmd",
}

Handler = Callable[[argparse.Namespace], int]


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser; with ``command`` only that command's module is imported."""
    parser = argparse.ArgumentParser(
        prog="zonegate",
        description=(
            "zonegate: a multi-zone API gateway cluster with failover drills and SLO monitoring."
        ),
    )
    parser.add_argument("--version", action="version", version=f"zonegate {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    modules = [COMMANDS[command]] if command in COMMANDS else list(dict.fromkeys(COMMANDS.values()))
    for name in modules:
        import_module(name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = next((a for a in argv if not a.startswith("-")), None)
    parser = build_parser(command)
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
