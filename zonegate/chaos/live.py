"""The live view of a running drill: phase, error rate, latency, where traffic goes."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence

from rich.console import Console, Group
from rich.live import Live
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from zonegate.chaos.guards import GuardBook, recent
from zonegate.chaos.records import RequestRecord, percentile

WINDOW_S = 1.0
LOG_LINES = 8


def window_stats(records: Sequence[RequestRecord], now: float) -> dict[str, object]:
    """Requests that started in the last second (ending 0.2 s ago: answers still arriving)."""
    end = now - 0.2
    window = recent(records, end - WINDOW_S, end)
    failed = sum(1 for r in window if r.failed)
    zones = Counter(r.zone or "?" for r in window if not r.failed)
    served = sum(zones.values())
    return {
        "rps": len(window) / WINDOW_S,
        "error_rate": failed / len(window) if window else None,
        "p99": percentile([r.latency_ms for r in window], 99.0),
        "shares": {z: n / served for z, n in sorted(zones.items())} if served else {},
    }


class LiveView:
    """A rich live panel when ``live`` (a terminal), else one plain line per event."""

    def __init__(
        self,
        title: str,
        console: Console,
        *,
        live: bool,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.title = title
        self.console = console
        self.live_enabled = live
        self.clock = clock
        self.phase = "starting"
        self.started = clock()
        self.lines: list[str] = []
        self.records: Sequence[RequestRecord] = ()
        self.guards: GuardBook | None = None
        self.routing: Callable[[], dict[str, float]] = dict
        self._live: Live | None = None

    def __enter__(self) -> LiveView:
        if self.live_enabled:
            self._live = Live(
                self.render(), console=self.console, refresh_per_second=4, transient=False
            )
            self._live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.update(self.render())
            self._live.__exit__(None, None, None)
            self._live = None

    def set_phase(self, phase: str) -> None:
        self.phase = phase
        self.log(f"phase: {phase}")

    def log(self, message: str) -> None:
        stamp = f"{self.clock() - self.started:7.2f}s"
        line = f"{stamp}  {message}"
        self.lines = [*self.lines[-(LOG_LINES - 1) :], line]
        if self._live is None:
            self.console.print(line, markup=False, highlight=False)
        else:
            self._live.update(self.render())

    def refresh(self) -> None:
        if self._live is not None:
            self._live.update(self.render())

    def render(self) -> Panel:
        stats = window_stats(self.records, self.clock())
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold")
        table.add_column()
        table.add_row("phase", Text(self.phase, style="cyan"))
        table.add_row("elapsed", f"{self.clock() - self.started:.1f} s")
        rate = stats["error_rate"]
        rate_text = "n/a" if rate is None else f"{float(rate):.2%}"  # type: ignore[arg-type]
        style = "green" if rate is not None and rate == 0 else "red" if rate else "white"
        table.add_row("load", f"{stats['rps']:.0f} req/s")
        table.add_row("error rate (1 s)", Text(rate_text, style=style))
        p99 = stats["p99"]
        table.add_row("p99 (1 s)", "n/a" if p99 is None else f"{float(p99):.1f} ms")  # type: ignore[arg-type]
        shares = stats["shares"]
        assert isinstance(shares, dict)
        served = ", ".join(f"{z} {s:.0%}" for z, s in shares.items()) or "-"
        table.add_row("served by", served)
        routing = self.routing()
        if routing:
            table.add_row("GLB routing", ", ".join(f"{z} {s:.0%}" for z, s in routing.items()))
        if self.guards is not None:
            for index, reading in sorted(self.guards.last.items()):
                value = "n/a" if reading.value is None else f"{reading.value:.4g}"
                table.add_row(f"guard {index}", f"{reading.what}: {value} (max {reading.bound:g})")
        log = Text("\n".join(self.lines), style="dim")
        return Panel(Group(table, Text(""), log), title=f"drill: {self.title}", expand=True)
