"""``zonegate drill run``: against the running local cluster, or a cluster of its own."""

from __future__ import annotations

import contextlib
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from rich.console import Console

from zonegate.chaos.drills import Drill
from zonegate.chaos.environment import local_cluster_environment
from zonegate.chaos.errors import TargetError
from zonegate.chaos.report import DrillReport
from zonegate.chaos.runner import DrillRunner, RunOptions
from zonegate.errors import ZonegateError

DEFAULT_REPORTS = Path(".zonegate") / "drills"


def default_out_dir(name: str, base: Path = DEFAULT_REPORTS) -> Path:
    return base / f"{time.strftime('%Y%m%d-%H%M%S')}-{name}"


async def run_on_local_cluster(
    drill: Drill,
    *,
    run_dir: Path | None,
    out_dir: Path,
    overrides: dict[str, str],
    live: bool,
    annotate: bool,
    console: Console,
    toxiproxy_url: str | None = None,
    slo_url: str | None = None,
    slo_files: list[Path] | None = None,
) -> DrillReport:
    env = await local_cluster_environment(run_dir, toxiproxy_url=toxiproxy_url, slo_url=slo_url)
    options = RunOptions(
        out_dir=out_dir,
        drill=drill.name,
        source=drill.source,
        overrides=overrides,
        live=live,
        annotate=annotate,
        console=console,
        slo_files=slo_files,
    )
    return await DrillRunner(drill.experiment, env, options).run()


@contextlib.contextmanager
def own_cluster(cluster_file: str | None, console: Console) -> Iterator[Path]:
    """Start a cluster in a temporary run directory (as ``zonegate up --detach``); stop it
    (``zonegate down``) afterwards, whatever happened in between."""
    from zonegate.cluster import api
    from zonegate.cluster import events as ev

    def emit(event: ev.Event) -> None:
        if event.type in (ev.PHASE, ev.FAILED):
            console.print(f"cluster: {event.type} {event.name or event.message}", markup=False)

    with tempfile.TemporaryDirectory(prefix="zonegate-drill-") as tmp:
        run_dir = Path(tmp) / "run"
        console.print(f"cluster: starting in {run_dir}", markup=False)
        try:
            api.up(cluster_file, run_dir, emit=emit)
        except ZonegateError as exc:
            raise TargetError(f"the cluster did not start: {exc.message}") from None
        try:
            yield run_dir
        finally:
            console.print("cluster: stopping", markup=False)
            try:
                api.down(run_dir)
            except ZonegateError as exc:
                console.print(f"cluster: stop failed: {exc.message}", markup=False)
