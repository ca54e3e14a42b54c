"""What ``zonegate status`` adds for a local cluster: its etcd as default, and every process.

``zonegate status`` (the coordinator's command, reading etcd) calls
:func:`local_cluster` first: when a cluster started by ``zonegate up`` runs
from the run directory and no ``--etcd``/``--cluster`` was given, its etcd
endpoints and cluster name become the defaults, and the supervisor's process
table (PID, address, health) is printed above the etcd view.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import asdict
from typing import Any

from zonegate.cluster.errors import ClusterError
from zonegate.cluster.state import ClusterState, default_run_dir, read_state

ENV_ENDPOINTS = "ZONEGATE_ETCD_ENDPOINTS"
ENV_CLUSTER = "ZONEGATE_CLUSTER"


def local_cluster(args: argparse.Namespace) -> ClusterState | None:
    """The running local cluster (live from its supervisor), filling etcd defaults into ``args``."""
    state = read_state(getattr(args, "run_dir", None) or default_run_dir())
    if state is None or not state.supervisor_alive():
        return None
    try:
        from zonegate.cluster.control import ClusterControl

        state = ClusterControl(state.run_dir, timeout=5.0).state()
    except ClusterError:  # the file is good enough when the supervisor is busy
        pass
    if getattr(args, "etcd", None) is None and not os.environ.get(ENV_ENDPOINTS):
        args.etcd = ",".join(state.etcd_endpoints) or None
    if getattr(args, "cluster", None) is None and not os.environ.get(ENV_CLUSTER):
        args.cluster = state.cluster
    return state


def render_local(state: ClusterState) -> None:
    from rich.console import Console

    from zonegate.cluster.summary import process_table

    console = Console()
    if not console.is_terminal:
        console = Console(width=200)
    console.print(process_table(state))
    if state.entry_points:
        console.print(f"entry points: {'  '.join(state.entry_points)}\n")


def local_json(state: ClusterState) -> dict[str, Any]:
    data = asdict(state)
    data.pop("token", None)
    return data
