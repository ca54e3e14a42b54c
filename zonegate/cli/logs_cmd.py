"""``zonegate logs [PROCESS...] [-f]``: the local cluster's logs, one file per process."""

from __future__ import annotations

import argparse
import sys
import zlib
from pathlib import Path
from typing import Any

_COLORS = ("cyan", "magenta", "green", "yellow", "blue", "bright_cyan", "bright_magenta")


def register(subparsers: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "logs",
        help="show (or follow) the local cluster's logs",
        description=(
            "Show the last lines of every process's log (or of the ones named), prefixed "
            "with the process name; -f follows them. Logs stay after `zonegate down` until "
            "the next `zonegate up`."
        ),
    )
    parser.add_argument("process", nargs="*", help="process names (default: all)")
    parser.add_argument("-f", "--follow", action="store_true", help="keep printing new lines")
    parser.add_argument("-n", "--lines", type=int, default=20, help="lines per log (default 20)")
    parser.add_argument("--run-dir", type=Path, default=None, help="run directory of the cluster")
    parser.set_defaults(handler=cmd_logs)
    return parser


def cmd_logs(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.markup import escape

    from zonegate.cluster.errors import ClusterError
    from zonegate.cluster.logs import choose, follow, log_files, tails
    from zonegate.cluster.state import default_run_dir

    run_dir = args.run_dir or default_run_dir()
    try:
        files = choose(log_files(run_dir), args.process)
    except ClusterError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    if not files:
        print(f"no logs in {run_dir} (start a cluster with `zonegate up`)", file=sys.stderr)
        return 1
    console = Console(highlight=False, soft_wrap=True)
    width = max(len(name) for name in files)
    single = len(files) == 1

    def write(name: str, line: str) -> None:
        if single:
            console.print(escape(line))
            return
        color = _COLORS[zlib.crc32(name.encode()) % len(_COLORS)]
        console.print(f"[{color}]{name:<{width}}[/] | {escape(line)}")

    for name, line in tails(files, max(0, args.lines)):
        write(name, line)
    if args.follow:
        try:
            follow(files, write)
        except KeyboardInterrupt:
            return 0
    return 0
