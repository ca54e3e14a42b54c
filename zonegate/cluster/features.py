"""Which commands and flags the installed zonegate has, read from its own argument parser.

The local cluster uses what exists (``node --admin``, ``node --etcd``, ``glb``)
so it keeps working while the parts it runs grow.
"""

from __future__ import annotations

import argparse

from zonegate.cluster.plan import Features


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _flags(parser: argparse.ArgumentParser | None) -> frozenset[str]:
    if parser is None:
        return frozenset()
    return frozenset(s for a in parser._actions for s in a.option_strings)


def detect_features() -> Features:
    from zonegate.cli.main import build_parser

    commands = _subcommands(build_parser())
    node = _flags(commands.get("node"))
    glb = commands.get("glb")
    backend = _flags(commands.get("demo-backend"))
    slo = commands.get("slo")
    slo_serve = slo is not None and "serve" in _subcommands(slo)
    return Features(
        node_admin="--admin" in node,
        node_etcd="--etcd" in node,
        glb=glb is not None,
        glb_flags=_flags(glb),
        backend_etcd="--etcd" in backend,
        slo_serve=slo_serve,
    )


def has_command(*path: str) -> bool:
    """``has_command("config", "apply")``: is that (sub)command registered?"""
    from zonegate.cli.main import build_parser

    parser: argparse.ArgumentParser | None = build_parser()
    for name in path:
        parser = _subcommands(parser).get(name) if parser is not None else None
    return parser is not None
