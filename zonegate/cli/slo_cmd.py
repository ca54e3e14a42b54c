"""``zonegate slo``: validate SLO specs, generate Prometheus rules and dashboards,
print SLO status, and serve the SLO engine with its dashboard."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from zonegate.slo.errors import SpecError
from zonegate.slo.loader import load_slos, slo_schema
from zonegate.slo.rules import render_rules
from zonegate.slo.spec import SLOFile


def _files(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-f",
        "--file",
        action="append",
        dest="files",
        metavar="FILE",
        help="SLO file (native, a cluster config with slos:, or OpenSLO v1); repeatable. "
        "Default: ./slos.yaml, else zonegate's default SLOs",
    )


def register(subparsers: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "slo", help="SLOs: validate specs, generate rules, show status, serve the dashboard"
    )
    sub = parser.add_subparsers(dest="slo_command", metavar="ACTION", required=True)

    validate = sub.add_parser("validate", help="check SLO files; print every problem")
    _files(validate)
    validate.set_defaults(handler=cmd_validate)

    schema = sub.add_parser("schema", help="print the JSON Schema of the SLO file format")
    schema.set_defaults(handler=cmd_schema)

    rules = sub.add_parser("rules", help="generate Prometheus recording and alerting rules")
    _files(rules)
    rules.add_argument("-o", "--output", default="-", help="rules file to write (- = stdout)")
    rules.set_defaults(handler=cmd_rules)

    for module in _EXTRA:
        module(sub)
    return parser


def load(args: argparse.Namespace) -> SLOFile | None:
    """The SLOs named on the command line; None (after printing why) when invalid."""
    try:
        return load_slos(args.files)
    except SpecError as exc:
        print("error: invalid SLO specs:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  - {problem}", file=sys.stderr)
        return None


def write_output(text: str, output: str) -> int:
    if output == "-":
        sys.stdout.write(text)
        return 0
    try:
        path = Path(output)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        print(f"error: cannot write {output}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    print(f"wrote {output}", file=sys.stderr)
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    slos = load(args)
    if slos is None:
        return 1
    for slo in slos.slos:
        print(
            f"{slo.name}: valid ({slo.sli.kind} on {slo.sli.source}, objective "
            f"{slo.objective * 100:g}% over {slo.window}, "
            f"{len(slo.alerting.windows)} alert windows)"
        )
    return 0


def cmd_schema(args: argparse.Namespace) -> int:
    json.dump(slo_schema(), sys.stdout, indent=2)
    print()
    return 0


def cmd_rules(args: argparse.Namespace) -> int:
    slos = load(args)
    if slos is None:
        return 1
    return write_output(render_rules(slos.slos), args.output)


_EXTRA: list[Any] = []
