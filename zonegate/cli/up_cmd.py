"""``zonegate up`` and ``zonegate down``: the whole local multi-zone cluster."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

RUN_DIR_HELP = (
    "run directory: logs, state file, etcd data (default .zonegate/run, $ZONEGATE_RUN_DIR)"
)


def register(subparsers: Any) -> argparse.ArgumentParser:
    up: argparse.ArgumentParser = subparsers.add_parser(
        "up",
        help="start the local multi-zone cluster (etcd, backends, nodes, GLB)",
        description=(
            "Start the whole cluster on this machine, in dependency order (etcd, config, demo "
            "backends, gateway nodes, GLB), each process waited for until healthy. Without -c "
            "the built-in default cluster runs (examples/cluster.yaml): 3 zones in 2 regions. "
            "Foreground: Ctrl-C stops everything (drained, in reverse order). --detach: return "
            "once healthy; stop with `zonegate down`."
        ),
    )
    up.add_argument("-c", "--config", default=None, help="cluster file (default: built-in)")
    up.add_argument("-d", "--detach", action="store_true", help="run in the background")
    up.add_argument("--run-dir", type=Path, default=None, help=RUN_DIR_HELP)
    up.add_argument("--supervise-fd", type=int, default=None, help=argparse.SUPPRESS)
    up.set_defaults(handler=cmd_up)

    down: argparse.ArgumentParser = subparsers.add_parser(
        "down",
        help="stop the local cluster (reverse order, with drain)",
        description=(
            "Stop every process of the local cluster in reverse dependency order: SIGTERM "
            "(gateway nodes drain), SIGKILL after the stop timeout; remove etcd's data."
        ),
    )
    down.add_argument("--run-dir", type=Path, default=None, help=RUN_DIR_HELP)
    down.set_defaults(handler=cmd_down)
    return up


def _console() -> Any:
    from rich.console import Console

    return Console(stderr=True)


def _load(args: argparse.Namespace) -> Any:
    from zonegate.cluster.errors import ClusterSpecError
    from zonegate.cluster.spec import load_cluster_file

    try:
        return load_cluster_file(args.config)
    except ClusterSpecError as exc:
        print(f"error: {args.config or 'the cluster file'} is not valid:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  - {problem}", file=sys.stderr)
        return None


def cmd_up(args: argparse.Namespace) -> int:
    from zonegate.cluster.state import default_run_dir

    file = _load(args)
    if file is None:
        return 1
    run_dir: Path = (args.run_dir or default_run_dir()).resolve()
    if args.supervise_fd is not None:
        return _supervise(file, run_dir, args.supervise_fd)
    if args.detach:
        return _detach(file, args.config, run_dir)
    return _foreground(file, run_dir)


def _supervise(file: Any, run_dir: Path, fd: int) -> int:
    from zonegate.cluster.daemon import PipeEmitter
    from zonegate.cluster.runner import run_supervisor

    emitter = PipeEmitter(fd)
    try:
        return asyncio.run(run_supervisor(file, run_dir, emitter))
    finally:
        emitter.close()


def _foreground(file: Any, run_dir: Path) -> int:
    from zonegate.cluster.progress import ProgressView
    from zonegate.cluster.runner import run_supervisor
    from zonegate.cluster.summary import print_summary

    console = _console()
    view = ProgressView(console)

    def ready(state: Any) -> None:
        view.close()
        print_summary(state, console, foreground=True)
        view.title = "zonegate down"

    code = asyncio.run(run_supervisor(file, run_dir, view, on_ready=ready))
    view.close()
    if view.failed_message:
        _fail(view.failed_message)
    else:
        console.print("[bold]cluster stopped[/]")
    return code


def _detach(file: Any, config: str | None, run_dir: Path) -> int:
    from zonegate.cluster.daemon import launch
    from zonegate.cluster.errors import ClusterError
    from zonegate.cluster.progress import ProgressView
    from zonegate.cluster.runner import preflight
    from zonegate.cluster.state import read_state
    from zonegate.cluster.summary import print_summary

    try:
        preflight(file, run_dir)
    except ClusterError as exc:
        _fail(exc.message)
        return 1
    console = _console()
    view = ProgressView(console)
    config_path = str(Path(config).resolve()) if config else None
    code, _daemon = launch(run_dir, config_path, view)
    view.close()
    if code != 0:
        _fail(view.failed_message or "the cluster did not start")
        return code
    state = read_state(run_dir)
    if state is not None:
        print_summary(state, console, foreground=False)
    return 0


def _fail(message: str) -> None:
    first, _, rest = message.partition("\n")
    print(f"error: {first}", file=sys.stderr)
    if rest:
        print(rest, file=sys.stderr)


def cmd_down(args: argparse.Namespace) -> int:
    from zonegate.cluster.control import stream_down
    from zonegate.cluster.errors import ClusterError
    from zonegate.cluster.progress import ProgressView
    from zonegate.cluster.runner import clean_stale
    from zonegate.cluster.state import default_run_dir, read_state

    run_dir: Path = (args.run_dir or default_run_dir()).resolve()
    state = read_state(run_dir)
    if state is None:
        print(f"no zonegate cluster is running from {run_dir}", file=sys.stderr)
        return 0
    if not state.supervisor_alive():
        killed = clean_stale(run_dir)
        print(
            f"the supervisor had died; cleaned up ({len(killed)} leftover processes killed)",
            file=sys.stderr,
        )
        return 0
    console = _console()
    view = ProgressView(console, title="zonegate down")
    try:
        for event in stream_down(state, timeout=120.0):
            view(event)
    except ClusterError as exc:
        view.close()
        _fail(exc.message)
        return 1
    view.close()
    console.print("[bold]cluster stopped[/]")
    return 0
