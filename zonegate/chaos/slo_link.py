"""What a drill needs from the SLO engine: objectives (from SLO files) and, when an engine
runs, its burn rate and budget figures over its JSON API."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from urllib.parse import quote

import aiohttp

from zonegate.chaos.errors import ChaosError
from zonegate.errors import ZonegateError

DEFAULT_OBJECTIVE = 0.999
DEFAULT_WINDOW_S = 30 * 86400.0


class Objectives:
    """``(slo, override) -> (objective, window_s)`` from the SLO files (built-in by default)."""

    def __init__(self, slo_files: Iterable[str | Path] | None = None) -> None:
        from zonegate.slo.loader import load_slos

        try:
            specs = load_slos(list(slo_files) if slo_files else None).slos
        except ZonegateError as exc:
            raise ChaosError(f"cannot read the SLO files: {exc.message}") from None
        self.specs = {s.name: (s.objective, float(s.window_s)) for s in specs}

    def __call__(self, slo: str, override: float | None) -> tuple[float, float]:
        objective, window_s = self.specs.get(slo, (DEFAULT_OBJECTIVE, DEFAULT_WINDOW_S))
        return (override if override is not None else objective), window_s

    def check(self, slo: str) -> str | None:
        """A problem message when ``slo`` is unknown, else None."""
        if slo in self.specs:
            return None
        known = ", ".join(sorted(self.specs)) or "none"
        return f"unknown SLO {slo!r} (known: {known}); give objective: to use it anyway"


def _window(seconds: float) -> str:
    whole = max(1, round(seconds))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if whole % size == 0:
            return f"{whole // size}{unit}"
    return f"{whole}s"


async def engine_burn_rate(
    session: aiohttp.ClientSession, url: str, slo: str, window_s: float
) -> float | None:
    """The engine's burn rate of ``slo`` over the last ``window_s`` (None: no data/unreachable)."""
    target = f"{url.rstrip('/')}/api/v1/slos/{quote(slo)}/burn-rate?window={_window(window_s)}"
    data = await _get(session, target)
    value = data.get("burn_rate") if data else None
    return float(value) if isinstance(value, int | float) else None


async def engine_budget(
    session: aiohttp.ClientSession, url: str, slo: str, start: float, end: float
) -> float | None:
    """Share of ``slo``'s error budget spent between ``start`` and ``end`` (wall clock)."""
    target = f"{url.rstrip('/')}/api/v1/slos/{quote(slo)}/budget?start={start:.3f}&end={end:.3f}"
    data = await _get(session, target)
    value = data.get("budget_consumed") if data else None
    return float(value) if isinstance(value, int | float) else None


async def _get(session: aiohttp.ClientSession, url: str) -> dict[str, object] | None:
    try:
        async with session.get(url, timeout=aiohttp.ClientTimeout(total=3.0)) as response:
            if response.status != 200:
                return None
            data = await response.json(content_type=None)
    except (aiohttp.ClientError, TimeoutError, ValueError, OSError):
        return None
    return data if isinstance(data, dict) else None
