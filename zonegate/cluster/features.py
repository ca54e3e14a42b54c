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


def _commands() -> dict[str, argparse.ArgumentParser]:
    """The subcommands the cluster runs, registered from their own modules only (the
    full CLI imports every command, which costs a second on a busy two-core machine)."""
    import importlib

    from zonegate.cluster.launch import MODULES

    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers()
    for name in ("node", "glb", "demo-backend", "slo"):
        try:
            module = importlib.import_module(MODULES[name])
        except ImportError:  # a part that is not there (yet): run without it
            continue
        module.register(sub)
    return dict(sub.choices)


def detect_features() -> Features:
    commands = _commands()
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
