"""Run one zonegate subcommand importing only its own module: ``python -m zonegate.cluster.launch
node -c ...`` behaves as ``zonegate node -c ...`` but starts faster (the full CLI imports every
command), which matters when the supervisor starts a dozen processes on two cores.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

MODULES = {
    "node": "zonegate.cli.node_cmd",
    "glb": "zonegate.cli.glb_cmd",
    "demo-backend": "zonegate.cli.demo_backend_cmd",
    "slo": "zonegate.cli.slo_cmd",
    "toxiproxy": "zonegate.cli.toxiproxy_cmd",
    "up": "zonegate.cli.up_cmd",
}


def main(argv: Sequence[str] | None = None) -> int:
    args_in = list(sys.argv[1:] if argv is None else argv)
    if not args_in or args_in[0] not in MODULES:
        print(f"usage: launch {{{','.join(MODULES)}}} ARGS...", file=sys.stderr)
        return 2
    module = importlib.import_module(MODULES[args_in[0]])
    parser = argparse.ArgumentParser(prog="zonegate")
    module.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(args_in)
    try:
        code: int = args.handler(args)
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
