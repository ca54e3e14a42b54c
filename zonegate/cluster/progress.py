"""Live progress of ``zonegate up``/``down``: a table on a terminal, plain lines otherwise."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from rich.console import Console
from rich.live import Live
from rich.table import Table
from rich.text import Text

from zonegate.cluster import events as ev

_STYLE = {
    "waiting": ("·", "dim"),
    "starting": ("…", "yellow"),
    "healthy": ("✓", "green"),
    "failed": ("✗", "bold red"),
    "exited": ("✗", "red"),
    "stopping": ("…", "yellow"),
    "stopped": ("■", "dim"),
    "killed": ("✗", "red"),
    "killed after timeout": ("✗", "red"),
}


@dataclass
class _Row:
    name: str
    kind: str = ""
    zone: str = ""
    state: str = "waiting"
    since: float = field(default_factory=time.monotonic)
    took: float | None = None


class ProgressView:
    """Feed it :class:`~zonegate.cluster.events.Event` s; call :meth:`close` at the end."""

    def __init__(self, console: Console | None = None, *, title: str = "zonegate up") -> None:
        self.console = console or Console(stderr=True)
        self.title = title
        self.rows: dict[str, _Row] = {}
        self.live: Live | None = None
        self.began = time.monotonic()
        self.failed_message = ""

    def __call__(self, event: ev.Event) -> None:
        if event.type == ev.PLAN:
            for item in event.data.get("processes", []):
                name = str(item["name"])
                self.rows[name] = _Row(name, str(item.get("kind", "")), str(item.get("zone", "")))
            if self.console.is_terminal:
                self.live = Live(self._table(), console=self.console, refresh_per_second=8)
                self.live.start()
        elif event.type == ev.PROCESS:
            self._update(event)
        elif event.type == ev.PHASE and not self.console.is_terminal:
            self.console.print(f"[bold]{event.name}[/]")
        elif event.type == ev.NOTE:
            self._print(f"  {event.message}")
        elif event.type == ev.FAILED:
            self.failed_message = event.message
        elif event.type in (ev.READY, ev.STOPPED):
            self.close()
        if self.live is not None:
            self.live.update(self._table())

    def _update(self, event: ev.Event) -> None:
        row = self.rows.get(event.name)
        if row is None:
            row = self.rows[event.name] = _Row(event.name)
        if event.state in ("starting", "stopping"):
            row.since = time.monotonic()
            row.took = None
        elif event.state != row.state:
            row.took = time.monotonic() - row.since
        row.state = event.state
        if self.live is None and event.state not in ("starting", "stopping"):
            took = f" ({row.took:.1f}s)" if row.took is not None else ""
            extra = f": {event.message}" if event.message else ""
            self.console.print(f"  {_icon(row.state)} {row.name} {row.state}{took}{extra}")

    def _print(self, line: str) -> None:
        if self.live is not None:
            self.live.console.print(line)
        else:
            self.console.print(line)

    def _table(self) -> Table:
        elapsed = time.monotonic() - self.began
        table = Table(title=f"{self.title} ({elapsed:.1f}s)", title_justify="left", box=None)
        table.add_column("process")
        table.add_column("zone")
        table.add_column("state")
        table.add_column("time", justify="right")
        for row in self.rows.values():
            icon, style = _STYLE.get(row.state, ("?", ""))
            took = row.took if row.took is not None else time.monotonic() - row.since
            shown = f"{took:.1f}s" if row.state not in ("waiting",) else ""
            table.add_row(row.name, row.zone, Text(f"{icon} {row.state}", style=style), shown)
        return table

    def close(self) -> None:
        if self.live is not None:
            self.live.update(self._table())
            self.live.stop()
            self.live = None


def _icon(state: str) -> str:
    return _STYLE.get(state, ("-", ""))[0]
