"""``zonegate drill``: list, show, validate, run and compare failover drills."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

RUN_HELP = (
    "Run a drill against the local cluster (`zonegate up`), or with --self-contained against "
    "a cluster of its own: locust load through the GLB, the steady-state hypothesis, the "
    "method under guards, rollbacks (always), then a report (JSON, Markdown, PNG timeline) "
    "and an etcd annotation for the SLO dashboard. Exit status: 0 completed, 1 deviated, "
    "failed or aborted by a guard, 2 bad input, 130 interrupted."
)


def register(subparsers: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "drill",
        help="failover drills: list, run, compare",
        description="Failover drills: typed experiments with load, guards and reports.",
    )
    sub = parser.add_subparsers(dest="drill_command", metavar="SUBCOMMAND")
    sub.add_parser("list", help="the built-in drills").set_defaults(handler=cmd_list)
    show = sub.add_parser("show", help="print a drill's experiment file")
    show.add_argument("drill", help="built-in drill name or experiment file")
    show.set_defaults(handler=cmd_show)
    validate = sub.add_parser("validate", help="check experiment files")
    validate.add_argument("files", nargs="+", metavar="FILE")
    validate.set_defaults(handler=cmd_validate)
    schema = sub.add_parser("schema", help="JSON Schema of experiment files (for editors)")
    schema.set_defaults(handler=cmd_schema)

    run = sub.add_parser("run", help="run a drill", description=RUN_HELP)
    run.add_argument("drill", help="built-in drill name (see `zonegate drill list`) or a file")
    run.add_argument("--run-dir", type=Path, default=None, help="the local cluster's run dir")
    run.add_argument("-o", "--out", type=Path, default=None, help="report directory")
    run.add_argument(
        "-p",
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override an experiment parameter (repeatable)",
    )
    run.add_argument(
        "--self-contained",
        action="store_true",
        help="start a cluster for the drill and stop it afterwards",
    )
    run.add_argument("-c", "--config", default=None, help="cluster file for --self-contained")
    run.add_argument("--toxiproxy", default=None, metavar="URL", help="Toxiproxy API URL")
    run.add_argument("--slo-url", default=None, metavar="URL", help="a running SLO engine")
    run.add_argument(
        "--slo-file", action="append", type=Path, default=None, help="SLO file(s) for objectives"
    )
    run.add_argument(
        "--live",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="rich live view (default: when stdout is a terminal)",
    )
    run.add_argument("--no-annotate", action="store_true", help="do not write to etcd events/")
    run.add_argument("--json", action="store_true", help="print the report as JSON")
    run.set_defaults(handler=cmd_run)

    compare = sub.add_parser("compare", help="two reports side by side")
    compare.add_argument("a", type=Path, help="report directory or report.json (before)")
    compare.add_argument("b", type=Path, help="report directory or report.json (after)")
    compare.add_argument("--json", action="store_true")
    compare.set_defaults(handler=cmd_compare)
    parser.set_defaults(handler=lambda _args: _usage(parser))
    return parser


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def _problems(header: str, problems: list[str]) -> None:
    print(f"error: {header}", file=sys.stderr)
    for problem in problems:
        print(f"  - {problem}", file=sys.stderr)


def cmd_list(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from zonegate.chaos.drills import all_builtin

    table = Table(title="built-in drills (zonegate drill run NAME)", show_lines=False)
    table.add_column("name", style="bold cyan", no_wrap=True)
    table.add_column("title")
    table.add_column("tags", style="dim")
    table.add_column("what it does")
    for drill in all_builtin():
        e = drill.experiment
        table.add_row(drill.name, e.title, ", ".join(e.tags), " ".join(e.description.split()))
    Console().print(table)
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    from importlib import resources

    from zonegate.chaos.drills import SUFFIX, builtin_names

    if args.drill in builtin_names():
        text = resources.files("zonegate.chaos.drills").joinpath(args.drill + SUFFIX)
        print(text.read_text("utf-8"), end="")
        return 0
    try:
        print(Path(args.drill).read_text(encoding="utf-8"), end="")
    except OSError as exc:
        print(
            f"error: {args.drill}: {exc.strerror or exc} (not a built-in drill either)",
            file=sys.stderr,
        )
        return 2
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    from zonegate.chaos.errors import ExperimentError
    from zonegate.chaos.spec.loader import load_experiment

    code = 0
    for path in args.files:
        try:
            experiment = load_experiment(path)
        except ExperimentError as exc:
            _problems(f"{path} is not a valid experiment:", exc.problems)
            code = 1
            continue
        print(
            f"{path}: ok ({experiment.title}: {len(experiment.method)} steps, "
            f"{len(experiment.rollbacks)} rollbacks, {len(experiment.guards)} guards)"
        )
    return code


def cmd_schema(args: argparse.Namespace) -> int:
    from zonegate.chaos.spec.loader import schema_json

    print(schema_json())
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from zonegate.chaos.drills import find_drill
    from zonegate.chaos.errors import ExperimentError
    from zonegate.chaos.params import parse_overrides
    from zonegate.chaos.session import default_out_dir, own_cluster, run_on_local_cluster
    from zonegate.errors import ZonegateError

    console = Console()
    try:
        drill = find_drill(args.drill)
        overrides = parse_overrides(args.param)
    except ExperimentError as exc:
        _problems(f"{args.drill} is not a valid experiment:", exc.problems)
        return 2
    except ZonegateError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    unknown = sorted(set(overrides) - set(drill.experiment.parameters))
    if unknown:
        known = ", ".join(sorted(drill.experiment.parameters)) or "none"
        _problems(
            f"{drill.name} has no parameter {', '.join(unknown)}",
            [f"its parameters: {known}"],
        )
        return 2
    out_dir: Path = args.out or default_out_dir(drill.name)
    live = console.is_terminal if args.live is None else args.live

    async def go(run_dir: Path | None) -> Any:
        return await run_on_local_cluster(
            drill,
            run_dir=run_dir,
            out_dir=out_dir,
            overrides=overrides,
            live=live,
            annotate=not args.no_annotate,
            console=console,
            toxiproxy_url=args.toxiproxy,
            slo_url=args.slo_url,
            slo_files=args.slo_file,
        )

    try:
        if args.self_contained:
            with own_cluster(args.config, console) as run_dir:
                report = asyncio.run(go(run_dir))
        else:
            report = asyncio.run(go(args.run_dir))
    except ExperimentError as exc:
        _problems(f"cannot run {drill.name}:", exc.problems)
        return 2
    except ZonegateError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(report.model_dump(mode="json"), indent=2))
    else:
        _summary(console, report, out_dir)
    return {"completed": 0, "interrupted": 130}.get(report.outcome, 1)


def _summary(console: Any, report: Any, out_dir: Path) -> None:
    from rich.table import Table

    from zonegate.chaos.report import metric_rows

    table = Table(title=f"{report.title}: {report.outcome}", show_header=False)
    table.add_column(style="bold")
    table.add_column()
    for name, value in metric_rows(report):
        table.add_row(name, value)
    table.add_row("guard trips", str(len(report.guard_trips)))
    table.add_row("rollbacks done", f"{report.rollbacks_done}/{len(report.rollbacks)}")
    console.print(table)
    if report.outcome_reason:
        console.print(f"reason: {report.outcome_reason}", markup=False)
    console.print(f"report: {out_dir}/report.md (timeline.png, report.json)", markup=False)


def cmd_compare(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from zonegate.chaos.compare import compare, hypothesis_rows
    from zonegate.chaos.errors import ReportError
    from zonegate.chaos.report import read_report

    try:
        a, b = read_report(args.a), read_report(args.b)
    except ReportError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    rows = compare(a, b) + hypothesis_rows(a, b)
    if args.json:
        print(json.dumps([row.__dict__ for row in rows], indent=2))
        return 0
    table = Table(title="drill comparison (B against A)")
    table.add_column("metric", style="bold")
    table.add_column(f"A {args.a}")
    table.add_column(f"B {args.b}")
    table.add_column("B - A")
    table.add_column("")
    colours = {"better": "green", "worse": "red", "same": "dim"}
    for row in rows:
        verdict = f"[{colours[row.verdict]}]{row.verdict}[/]" if row.verdict else ""
        table.add_row(row.metric, row.a, row.b, row.delta, verdict)
    Console().print(table)
    return 0
