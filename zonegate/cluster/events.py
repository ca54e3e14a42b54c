"""Progress events of the supervisor (shown live, relayed over a pipe by ``up --detach``)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

PLAN = "plan"  # data: processes [{name, kind, zone, phase}]
PHASE = "phase"  # name: phase title
PROCESS = "process"  # name, state (starting/healthy/failed/stopping/stopped/...), message
NOTE = "note"  # message
READY = "ready"  # data: the state (URLs, processes), message: seconds
FAILED = "failed"  # message: what went wrong, one clear sentence plus details
STOPPING = "stopping"
STOPPED = "stopped"


@dataclass(frozen=True)
class Event:
    type: str
    name: str = ""
    state: str = ""
    message: str = ""
    data: dict[str, Any] = field(default_factory=dict)

    def to_line(self) -> bytes:
        return (json.dumps(asdict(self), separators=(",", ":")) + "\n").encode()

    @classmethod
    def from_line(cls, line: bytes | str) -> Event:
        value = json.loads(line)
        if not isinstance(value, dict) or not isinstance(value.get("type"), str):
            raise ValueError("not an event")
        return cls(
            type=value["type"],
            name=str(value.get("name", "")),
            state=str(value.get("state", "")),
            message=str(value.get("message", "")),
            data=dict(value.get("data") or {}),
        )


Emit = Callable[[Event], None]


def ignore(_event: Event) -> None:
    """An :data:`Emit` that drops events."""
