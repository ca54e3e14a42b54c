"""Human views of a cluster's state: the summary after ``up`` and the process table."""

from __future__ import annotations

import os
from pathlib import Path

from rich.console import Console
from rich.table import Table
from rich.text import Text

from zonegate.cluster.state import ClusterState, ProcessInfo


def _relative(path: str) -> str:
    try:
        return os.path.relpath(path)
    except ValueError:
        return path


def health_text(info: ProcessInfo) -> Text:
    if info.state in ("running",) and info.healthy:
        return Text("healthy", style="green")
    if info.state == "running" and info.healthy is False:
        return Text("unhealthy", style="bold red")
    if info.state in ("killed", "exited", "failed"):
        code = f" ({info.exit_code})" if info.exit_code not in (None, 0) else ""
        return Text(f"{info.state}{code}", style="red")
    if info.state == "paused":
        return Text("paused", style="yellow")
    return Text(info.state, style="dim")


def process_table(state: ClusterState) -> Table:
    """Every process: name, kind, zone, PID, address, health (``zonegate ctl ps``)."""
    table = Table(box=None, title=f"cluster {state.cluster} ({state.status})", title_justify="left")
    for column in ("process", "kind", "zone", "pid", "address", "admin", "state"):
        table.add_column(column)
    for info in state.processes:
        table.add_row(
            info.name,
            info.service or info.kind,
            info.zone or "-",
            str(info.pid) if info.pid else "-",
            info.address,
            info.admin or "-",
            health_text(info),
        )
    return table


def print_summary(state: ClusterState, console: Console, *, foreground: bool) -> None:
    """What ``zonegate up`` prints once the cluster is healthy."""
    procs = state.processes
    zones = sorted({p.zone for p in procs if p.zone})
    regions = sorted({p.region for p in procs if p.region})
    took = f" in {state.ready_seconds:.1f}s" if state.ready_seconds is not None else ""
    phases = ", ".join(f"{name} {seconds:.1f}s" for name, seconds in state.phase_seconds.items())
    console.print(
        f"\n[bold green]zonegate cluster {state.cluster!r} is up{took}[/] "
        f"({len(zones)} zones in {len(regions)} regions, {len(procs)} processes)"
    )
    if phases:
        console.print(f"  [dim]{phases}[/]")
    console.print()
    glbs = [p for p in procs if p.kind == "glb"]
    rows: list[tuple[str, str]] = []
    if glbs:
        rows.append(("entry points (GLB)", "  ".join(p.url for p in glbs)))
        admins = [f"http://{p.admin}/status" for p in glbs if p.admin]
        if admins:
            rows.append(("GLB status", "  ".join(admins)))
    else:
        rows.append(("entry points (nodes)", "  ".join(state.entry_points)))
    for dashboard in (p for p in procs if p.kind == "dashboard"):
        rows.append(("SLO dashboard", f"{dashboard.url}/"))
    for zone in zones:
        nodes = [p.url for p in procs if p.zone == zone and p.kind == "node"]
        rows.append((f"nodes {zone}", "  ".join(nodes)))
    if state.etcd_endpoints:
        rows.append(("etcd", ",".join(state.etcd_endpoints)))
    rows.append(
        ("logs", f"{_relative(str(Path(state.run_dir) / 'logs'))}/  (zonegate logs NAME -f)")
    )
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        console.print(f"  [bold]{label:<{width}}[/]  {value}", soft_wrap=True)
    entry = state.entry_points[0] if state.entry_points else ""
    console.print("\n  try:  " + f"curl -si {entry}/catalog/items | grep -i x-zonegate")
    if zones:
        console.print(f"        zonegate status        zonegate ctl kill {zones[-1]}")
    stop = "Ctrl-C or `zonegate down`" if foreground else "`zonegate down`"
    console.print(f"  stop: {stop}\n")
