"""Structured JSON logs of the node process: one event per line.

A line reads ``{"time", "level", "logger", "event", ...fields}``: ``event`` is
the log call's message (``log.info("config_applied", extra={"revision": 7})``);
a message with %-arguments (``"registered key=%s"``) keeps its first word as the
event and the formatted text as ``message``. ``node`` and ``zone`` are fixed per
process; the request being handled (bound per request in a context variable,
which each request's task has its own copy of) adds ``request_id``,
``trace_id`` and ``route``.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from contextvars import ContextVar
from typing import Any, TextIO

from zonegate.node.context import RequestContext

current_request: ContextVar[RequestContext | None] = ContextVar("current_request", default=None)

# Attributes every LogRecord has; anything else came in through ``extra=``.
_STANDARD = frozenset(
    logging.LogRecord("", 0, "", 0, "", (), None).__dict__.keys() | {"message", "asctime"}
)


class JsonFormatter(logging.Formatter):
    def __init__(self, static: dict[str, str] | None = None) -> None:
        super().__init__()
        self.static = dict(static or {})

    def format(self, record: logging.LogRecord) -> str:
        message = str(record.msg)
        event = message
        out: dict[str, Any] = {
            "time": _iso(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
        }
        if record.args:
            message = record.getMessage()
            event = message.split(" ", 1)[0].split("=", 1)[0] or "log"
            out["event"] = event
            out["message"] = message
        else:
            out["event"] = event
        out.update(self.static)
        ctx = current_request.get()
        if ctx is not None and ctx.request_id:
            out["request_id"] = ctx.request_id
            if ctx.trace_id:
                out["trace_id"] = ctx.trace_id
            if ctx.route:
                out["route"] = ctx.route
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                out[key] = value
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str, separators=(",", ":"))


def _iso(created: float) -> str:
    return (
        time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created))
        + f".{int(created % 1 * 1000):03d}Z"
    )


def setup_json_logging(
    static: dict[str, str], *, level: int = logging.INFO, stream: TextIO | None = None
) -> logging.Handler:
    """Route every log record of the process through one JSON handler (on stderr)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter(static))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    return handler
