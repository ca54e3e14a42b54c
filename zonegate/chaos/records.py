"""The per-request log the load writes (JSON lines) and reading it back, also while it grows.

One line per request::

    {"t": 1718000000.123, "ms": 3.2, "s": 200, "z": "eu-west-1a", "n": "eu-west-1a-1",
     "r": "catalog"}

``t`` is the wall-clock start (seconds), ``ms`` the latency, ``s`` the HTTP
status (0 when no answer came: refused, reset, timeout), ``z``/``n`` the zone
and node that served it (the ``X-Zonegate-Zone``/``X-Zonegate-Node``
headers; empty when absent), ``r`` the request's name, ``e`` the error if any.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True, slots=True)
class RequestRecord:
    t: float
    latency_ms: float
    status: int
    zone: str = ""
    node: str = ""
    name: str = ""
    error: str = ""

    @property
    def failed(self) -> bool:
        """No answer, or a 5xx: what the availability SLO counts as bad."""
        return self.status == 0 or self.status >= 500

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "t": round(self.t, 6),
            "ms": round(self.latency_ms, 3),
            "s": self.status,
        }
        for key, value in (("z", self.zone), ("n", self.node), ("r", self.name)):
            if value:
                out[key] = value
        if self.error:
            out["e"] = self.error
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RequestRecord:
        return cls(
            t=float(data["t"]),
            latency_ms=float(data.get("ms", 0.0)),
            status=int(data.get("s", 0)),
            zone=str(data.get("z", "")),
            node=str(data.get("n", "")),
            name=str(data.get("r", "")),
            error=str(data.get("e", "")),
        )


def parse_line(line: str) -> RequestRecord | None:
    """A record, or None for a blank, torn or foreign line."""
    line = line.strip()
    if not line:
        return None
    try:
        data = json.loads(line)
        return RequestRecord.from_json(data) if isinstance(data, dict) else None
    except (ValueError, KeyError, TypeError):
        return None


def read_records(path: str | Path) -> list[RequestRecord]:
    """Every complete record of a log file, sorted by start time."""
    with Path(path).open("r", encoding="utf-8", errors="replace") as handle:
        records = [r for line in handle if (r := parse_line(line)) is not None]
    records.sort(key=lambda r: r.t)
    return records


def write_records(path: str | Path, records: Iterable[RequestRecord]) -> None:
    with Path(path).open("w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record.to_json(), separators=(",", ":")) + "\n")


class LogFollower:
    """Reads the records appended to a file since the last call (a torn last line waits)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._offset = 0
        self._partial = b""

    def poll(self) -> list[RequestRecord]:
        try:
            with self.path.open("rb") as handle:
                handle.seek(self._offset)
                chunk = handle.read()
        except FileNotFoundError:
            return []
        self._offset += len(chunk)
        data = self._partial + chunk
        lines = data.split(b"\n")
        self._partial = lines.pop()
        return [r for raw in lines if (r := parse_line(raw.decode("utf-8", "replace"))) is not None]


def percentile(values: Sequence[float], pct: float) -> float | None:
    """Nearest-rank percentile (``pct`` in 0..100) of unsorted ``values``; None if empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100.0 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def in_window(
    records: Sequence[RequestRecord], start: float, end: float
) -> Iterator[RequestRecord]:
    """Records that started in ``[start, end)``."""
    return (r for r in records if start <= r.t < end)
