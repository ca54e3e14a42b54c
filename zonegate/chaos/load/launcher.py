"""``python -m zonegate.chaos.load.launcher PARENT_PID -- ARGV...``: exec ARGV so that it
gets SIGKILL when the drill process dies (``PR_SET_PDEATHSIG``, set in the child itself:
``preexec_fn`` is unsafe in a parent that runs threads)."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import sys

_PR_SET_PDEATHSIG = 1


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[1] != "--" or not argv[0].isdigit():
        print("usage: launcher PARENT_PID -- PROGRAM [ARGS...]", file=sys.stderr)
        return 2
    name = ctypes.util.find_library("c")
    if name and sys.platform.startswith("linux"):
        ctypes.CDLL(name, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != int(argv[0]):
        return 1  # the parent is already gone
    os.execv(argv[2], argv[2:])
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
