"""``zonegate ctl``: operate a running local cluster by name (people and the chaos harness)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

TARGET_HELP = (
    "a process (eu-west-1a-1, etcd-us-east-1a, orders-eu-west-1b, glb-1), a zone (every "
    "process in it), a kind (nodes, backends, etcd, glb), a service (orders), ZONE/KIND "
    "(us-east-1a/nodes) or all"
)
PROCESS_VERBS = {
    "kill": "SIGKILL: a crash (a zone: all its processes, etcd member included)",
    "pause": "SIGSTOP: the process hangs with its sockets open",
    "resume": "SIGCONT a paused process",
    "stop": "graceful stop: SIGTERM, SIGKILL after the stop timeout",
    "drain": "drain gateway nodes (SIGTERM: readiness 503, deregister, finish, exit)",
    "start": "start stopped or killed processes again, in dependency order, until healthy",
    "restart": "stop, then start",
}


def register(subparsers: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "ctl",
        help="operate the running local cluster: kill, pause, drain, start, etcd...",
        description="Operate the local cluster started by `zonegate up`, by name.",
    )
    _common(parser, None)
    common = argparse.ArgumentParser(add_help=False)
    _common(common, argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="ctl_command", metavar="VERB", required=True)

    def add(name: str, help_text: str) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = sub.add_parser(name, help=help_text, parents=[common])
        return parser

    ps = add("ps", "every process with its PID, address and health")
    ps.set_defaults(handler=cmd_ps)
    url = add("url", "URL of a process, or of the entry point (first GLB)")
    url.add_argument("name", nargs="?", default=None)
    url.add_argument("--admin", action="store_true", help="the admin listener's URL")
    url.set_defaults(handler=cmd_url)
    for verb, help_text in PROCESS_VERBS.items():
        one = add(verb, help_text)
        one.add_argument("target", help=TARGET_HELP)
        one.set_defaults(handler=cmd_process, verb=verb)
    etcd = add("etcd", "etcd: leader, kill-leader, stop [MEMBER], start [MEMBER]")
    etcd.add_argument("etcd_verb", choices=("leader", "kill-leader", "stop", "start"))
    etcd.add_argument("member", nargs="?", default=None, help="member name or zone (default: all)")
    etcd.set_defaults(handler=cmd_etcd)
    fault = add("fault", "set or clear a demo backend fault (POST /_fault)")
    fault.add_argument("target", help="backends: a service, a zone, ZONE/SERVICE or a name")
    fault.add_argument("--error-rate", type=float, default=0.0)
    fault.add_argument("--error-status", type=int, default=503)
    fault.add_argument("--latency-ms", type=float, default=0.0)
    fault.add_argument("--hang", action="store_true")
    fault.add_argument("--include-health", action="store_true", help="fail /healthz too")
    fault.add_argument("--clear", action="store_true", help="remove the fault")
    fault.set_defaults(handler=cmd_fault)
    return parser


def _common(parser: argparse.ArgumentParser, default: Any) -> None:
    """--run-dir and --json, accepted before and after the verb."""
    parser.add_argument(
        "--run-dir",
        type=Path,
        default=default,
        help="run directory of the cluster (default .zonegate/run)",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        default=default if default is not None else False,
        help="machine-readable output",
    )


def _control(args: argparse.Namespace) -> Any:
    from zonegate.cluster.control import ClusterControl

    return ClusterControl(args.run_dir)


def _run(args: argparse.Namespace, action: Any) -> int:
    from zonegate.cluster.errors import ClusterError

    try:
        result = action(_control(args))
    except ClusterError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    if result is not None:
        if args.json:
            print(json.dumps(result))
        elif isinstance(result, list):
            print("\n".join(result) if result else "(nothing to do)")
        else:
            print(result)
    return 0


def cmd_ps(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from rich.console import Console

    from zonegate.cluster.summary import process_table

    def show(control: Any) -> None:
        state = control.state()
        if args.json:
            print(json.dumps(asdict(state)["processes"]))
        else:
            console = Console()
            if not console.is_terminal:
                console = Console(width=200)
            console.print(process_table(state))

    return _run(args, show)


def cmd_url(args: argparse.Namespace) -> int:
    return _run(args, lambda control: control.url(args.name, admin=args.admin))


def cmd_process(args: argparse.Namespace) -> int:
    return _run(args, lambda control: getattr(control, args.verb)(args.target))


def cmd_etcd(args: argparse.Namespace) -> int:
    def act(control: Any) -> Any:
        if args.etcd_verb == "leader":
            return control.etcd_leader()
        if args.etcd_verb == "kill-leader":
            return control.etcd_kill_leader()
        if args.etcd_verb == "stop":
            return control.etcd_stop(args.member)
        return control.etcd_start(args.member)

    return _run(args, act)


def cmd_fault(args: argparse.Namespace) -> int:
    def act(control: Any) -> Any:
        if args.clear:
            return control.clear_fault(args.target)
        return control.set_fault(
            args.target,
            error_rate=args.error_rate,
            latency_ms=args.latency_ms,
            hang=args.hang,
            error_status=args.error_status,
            include_health=args.include_health,
        )

    return _run(args, act)
