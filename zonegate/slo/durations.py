"""Durations as operators write them (``5m``, ``1h``, ``28d``) and as Prometheus prints them."""

from __future__ import annotations

import re

UNIT_SECONDS: dict[str, int] = {
    "s": 1,
    "m": 60,
    "h": 3600,
    "d": 86400,
    "w": 7 * 86400,
}
_DURATION = re.compile(r"^(\d+)([smhdw])$")


def parse_duration(text: str) -> int:
    """``"30m"`` -> ``1800``. Whole units only; raises ``ValueError`` with the accepted form."""
    match = _DURATION.match(text.strip())
    if not match:
        raise ValueError(
            f"invalid duration {text!r}: expected a whole number and a unit s, m, h, d or w "
            "(e.g. 5m, 1h, 28d)"
        )
    return int(match.group(1)) * UNIT_SECONDS[match.group(2)]


def format_duration(seconds: float) -> str:
    """``1800`` -> ``"30m"``: the largest of d, h, m that divides it exactly (as in
    Sloth's rule names: ``ratio_rate30d``, never weeks)."""
    whole = int(seconds)
    if whole != seconds or whole <= 0:
        raise ValueError(f"duration must be a positive whole number of seconds, got {seconds}")
    for unit in ("d", "h", "m"):
        if whole % UNIT_SECONDS[unit] == 0:
            return f"{whole // UNIT_SECONDS[unit]}{unit}"
    return f"{whole}s"


def human_duration(seconds: float) -> str:
    """Short readable form for tables: ``5400`` -> ``"1h30m"``, ``90`` -> ``"1m30s"``."""
    if seconds < 0:
        return "-" + human_duration(-seconds)
    if seconds < 60:
        return f"{seconds:.0f}s"
    minutes = int(seconds // 60)
    if minutes < 60:
        rest = int(seconds - minutes * 60)
        return f"{minutes}m{rest:02d}s" if rest else f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours}h{minutes:02d}m" if minutes else f"{hours}h"
    days, hours = divmod(hours, 24)
    return f"{days}d{hours:02d}h" if hours else f"{days}d"
