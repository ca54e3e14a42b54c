"""The local cluster from Python (the chaos harness's ``--self-contained`` mode, tests).

>>> from zonegate.cluster import api
>>> cluster = api.up(run_dir="/tmp/drill")     # detached; returns when healthy
>>> cluster.kill("us-east-1a/nodes")
>>> cluster.start("us-east-1a/nodes")
>>> api.down("/tmp/drill")

:class:`~zonegate.cluster.control.ClusterControl` has every ``zonegate ctl`` verb.
"""

from __future__ import annotations

from pathlib import Path

from zonegate.cluster import events as ev
from zonegate.cluster.control import ClusterControl, stream_down
from zonegate.cluster.daemon import launch
from zonegate.cluster.errors import ProcessStartError
from zonegate.cluster.runner import clean_stale, preflight
from zonegate.cluster.spec import load_cluster_file
from zonegate.cluster.state import default_run_dir, read_state

__all__ = ["ClusterControl", "down", "up"]


def up(
    config: str | Path | None = None,
    run_dir: str | Path | None = None,
    *,
    emit: ev.Emit = ev.ignore,
) -> ClusterControl:
    """Start the cluster in the background (as ``zonegate up --detach``) and return its handle.

    Raises :class:`~zonegate.cluster.errors.ClusterSpecError` for a bad file,
    :class:`~zonegate.cluster.errors.AlreadyRunningError`, or
    :class:`~zonegate.cluster.errors.ProcessStartError` (everything rolled back).
    """
    path = str(Path(config).resolve()) if config is not None else None
    file = load_cluster_file(path)  # fail fast, in this process, on a bad file
    directory = Path(run_dir or default_run_dir()).resolve()
    preflight(file, directory)
    failure: list[str] = []

    def relay(event: ev.Event) -> None:
        if event.type == ev.FAILED:
            failure.append(event.message)
        emit(event)

    code, daemon = launch(directory, path, relay)
    if code != 0:
        raise ProcessStartError(failure[-1] if failure else "the cluster did not start")
    control = ClusterControl(directory)
    control.daemon = daemon
    return control


def down(run_dir: str | Path | None = None, *, emit: ev.Emit = ev.ignore) -> bool:
    """Stop the cluster of ``run_dir`` (reverse order, drained); False if none was running."""
    directory = Path(run_dir or default_run_dir()).resolve()
    state = read_state(directory)
    if state is None:
        return False
    if not state.supervisor_alive():
        clean_stale(directory)
        return True
    for event in stream_down(state, timeout=120.0):
        emit(event)
    return True
