"""``zonegate config``: validate a config file, print its JSON Schema."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from zonegate.config.loader import config_schema, load_config
from zonegate.errors import ConfigError


def register(subparsers: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "config", help="validate, inspect and distribute cluster configs"
    )
    config_sub = parser.add_subparsers(dest="config_command", metavar="ACTION", required=True)

    validate = config_sub.add_parser(
        "validate", help="check a config file; print every problem with its path"
    )
    validate.add_argument("file", help="cluster config (YAML or JSON)")
    validate.set_defaults(handler=cmd_validate)

    schema = config_sub.add_parser("schema", help="print the JSON Schema of the config format")
    schema.set_defaults(handler=cmd_schema)

    from zonegate.cli import config_store_cmd  # apply/show/history/rollback (etcd)

    config_store_cmd.add_actions(config_sub)
    return parser


def report_config_error(error: ConfigError, source: str) -> None:
    print(f"error: {source} is not a valid zonegate config:", file=sys.stderr)
    for problem in error.problems:
        print(f"  - {problem}", file=sys.stderr)


def cmd_validate(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.file)
    except ConfigError as exc:
        report_config_error(exc, args.file)
        return 1
    print(
        f"{args.file}: valid (version {config.version}, "
        f"{len(config.clusters)} clusters, {len(config.routes)} routes)"
    )
    return 0


def cmd_schema(args: argparse.Namespace) -> int:
    json.dump(config_schema(), sys.stdout, indent=2)
    print()
    return 0
