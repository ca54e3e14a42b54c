"""``zonegate slo``: validate SLO specs, generate Prometheus rules and dashboards,
print SLO status, and serve the SLO engine with its dashboard."""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from rich.console import Console
from rich.table import Table

from zonegate.slo.app import DEFAULT_PORT, RUNTIME, ServeOptions, build_app
from zonegate.slo.errors import SLOError, SpecError
from zonegate.slo.grafana import render_dashboard
from zonegate.slo.loader import load_slos, slo_schema
from zonegate.slo.rules import render_rules
from zonegate.slo.scraper import ScrapeTarget, static_targets
from zonegate.slo.spec import SLOFile, WebhookTarget
from zonegate.slo.store import DEFAULT_PATH


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

    grafana = sub.add_parser("grafana", help="generate the Grafana dashboard JSON")
    grafana.add_argument("-o", "--output", default="-", help="file to write (- = stdout)")
    grafana.set_defaults(handler=cmd_grafana)

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


def cmd_grafana(args: argparse.Namespace) -> int:
    return write_output(render_dashboard(), args.output)


def _data_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db", default=str(DEFAULT_PATH), help=f"SQLite store (default {DEFAULT_PATH})"
    )
    parser.add_argument(
        "--prometheus", metavar="URL", help="compute from a Prometheus server instead"
    )


def _register_status(sub: Any) -> None:
    status = sub.add_parser("status", help="print every SLO's SLI, budget, burn rates, alerts")
    _files(status)
    _data_options(status)
    status.add_argument("--json", action="store_true", help="machine-readable output")
    status.add_argument(
        "--url", metavar="URL", help="ask a running `zonegate slo serve` instead (its base URL)"
    )
    status.set_defaults(handler=cmd_status)


def _register_serve(sub: Any) -> None:
    serve = sub.add_parser(
        "serve", help="run the SLO engine: scrape, evaluate, alert, serve the dashboard"
    )
    _files(serve)
    _data_options(serve)
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=DEFAULT_PORT)
    serve.add_argument(
        "--target",
        action="append",
        default=[],
        metavar="URL",
        help="a /metrics URL to scrape (repeatable; e.g. the GLB's)",
    )
    serve.add_argument("--etcd", metavar="ENDPOINTS", help="discover nodes and drill events")
    serve.add_argument("--cluster", default="zonegate", help="cluster name (etcd key prefix)")
    serve.add_argument("--webhook", action="append", default=[], metavar="URL")
    serve.add_argument("--alertmanager", metavar="URL", help="Alertmanager base URL")
    serve.add_argument("--external-url", default="", help="this dashboard's public URL")
    serve.add_argument("--scrape-interval", type=float, default=5.0, metavar="SECONDS")
    serve.add_argument("--eval-interval", type=float, default=10.0, metavar="SECONDS")
    serve.add_argument("--refresh", type=float, default=10.0, metavar="SECONDS")
    serve.set_defaults(handler=cmd_serve)


_EXTRA: list[Any] = [_register_status, _register_serve]


def _status_table(rows: list[dict[str, Any]]) -> None:
    table = Table(title="SLOs", header_style="bold")
    for column in ("SLO", "health", "SLI", "objective", "budget left", "fastest burn", "alerts"):
        table.add_column(column, justify="right" if column not in ("SLO", "alerts") else "left")
    colours = {"ok": "green", "warning": "yellow", "critical": "red", "no_data": "dim"}
    for row in rows:
        budget = row["budget"]
        fastest = row["fastest_burn"]
        sli = row["sli"]
        alerts = ", ".join(f"{k}: {v}" for k, v in row["alerts"].items() if v != "inactive")
        table.add_row(
            row["name"],
            f"[{colours[row['health']]}]{row['health']}[/]",
            "n/a" if sli is None or not row["enough_data"] else f"{sli * 100:.3f}%",
            f"{row['objective'] * 100:g}%",
            f"{budget['remaining'] * 100:.1f}% ({budget['remaining_minutes']:.1f} min)",
            "n/a" if fastest is None else f"{fastest['burn_rate']:.3g}x ({fastest['window']})",
            alerts or "-",
        )
    Console().print(table)


async def _local_status(args: argparse.Namespace, slos: SLOFile) -> list[dict[str, Any]]:
    options = ServeOptions(
        specs=slos.slos, db_path=args.db, prometheus_url=args.prometheus, evaluate=False
    )
    app = build_app(options)
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        statuses = await app[RUNTIME].engine.evaluate_once()
        return [s.to_json() for s in statuses]
    finally:
        await runner.cleanup()


async def _remote_status(url: str) -> list[dict[str, Any]]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        async with session.get(f"{url.rstrip('/')}/api/v1/slos") as resp:
            body = await resp.json()
            if resp.status != 200:
                raise SLOError(f"{url} answered {resp.status}: {body}")
            rows: list[dict[str, Any]] = body["slos"]
            return rows


def cmd_status(args: argparse.Namespace) -> int:
    try:
        if args.url:
            rows = asyncio.run(_remote_status(args.url))
        else:
            slos = load(args)
            if slos is None:
                return 1
            rows = asyncio.run(_local_status(args, slos))
    except (SLOError, aiohttp.ClientError, OSError) as exc:
        print(f"error: cannot compute SLO status: {exc}", file=sys.stderr)
        return 1
    if args.json:
        json.dump({"slos": rows}, sys.stdout, indent=2)
        print()
    else:
        _status_table(rows)
    return 0


async def _serve(args: argparse.Namespace, slos: SLOFile) -> None:
    notifications = slos.notifications.model_copy(
        update={
            "webhooks": [
                *slos.notifications.webhooks,
                *(WebhookTarget(url=u) for u in args.webhook),
            ],
            "alertmanager_url": args.alertmanager or slos.notifications.alertmanager_url,
            "external_url": args.external_url
            or slos.notifications.external_url
            or (f"http://{args.host}:{args.port}" if args.port else ""),
        }
    )
    extra = [ScrapeTarget(url) for url in args.target]
    options = ServeOptions(
        specs=slos.slos,
        notifications=notifications,
        db_path=args.db,
        prometheus_url=args.prometheus,
        targets=static_targets(args.target) if extra and not args.etcd else None,
        scrape_interval_s=args.scrape_interval,
        eval_interval_s=args.eval_interval,
        refresh_s=args.refresh,
    )
    app = build_app(options)
    if args.etcd:
        from zonegate.slo.etcd_plug import etcd_context  # the etcd client only with --etcd

        app.cleanup_ctx.insert(0, etcd_context(args.etcd, args.cluster, extra))
        from zonegate.node.delivery.catalog_page import etcd_catalog_app

        app.add_subapp("/catalog/", etcd_catalog_app(args.etcd, args.cluster, slos=options.specs))
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, args.host, args.port)
    await site.start()
    host, port = runner.addresses[0][:2] if runner.addresses else (args.host, args.port)
    print(f"zonegate slo: dashboard on http://{host}:{port}/", file=sys.stderr)
    if not args.etcd and not extra and not args.prometheus:
        print(
            "zonegate slo: nothing to scrape (no --target, --etcd or --prometheus): "
            "showing the store as it is",
            file=sys.stderr,
        )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):  # stop cleanly: last cycle saved, store closed
        loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


def cmd_serve(args: argparse.Namespace) -> int:
    slos = load(args)
    if slos is None:
        return 1
    try:
        asyncio.run(_serve(args, slos))
    except (SLOError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0
