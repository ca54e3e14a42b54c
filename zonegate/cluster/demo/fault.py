"""The fault knob: ``POST /_fault`` makes a backend slow, failing or hanging; ``DELETE`` clears it.

Body of ``POST /_fault`` (every field optional)::

    {"error_rate": 0.5, "error_status": 503, "latency_ms": 200, "hang": false,
     "include_health": false}

``error_rate`` of the requests answer ``error_status``; every request waits
``latency_ms`` first; ``hang`` holds requests unanswered until the fault is
cleared. ``/healthz`` is spared unless ``include_health`` is true, so a drill
can choose between a backend that looks healthy but fails (outlier detection)
and one whose health check fails too.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from typing import Any

from aiohttp import web

FAULT_PATH = "/_fault"
HEALTH_PATH = "/healthz"


@dataclass(frozen=True)
class Fault:
    error_rate: float = 0.0
    error_status: int = 503
    latency_ms: float = 0.0
    hang: bool = False
    include_health: bool = False

    @classmethod
    def parse(cls, body: Any) -> Fault:
        """Validate a ``POST /_fault`` body; ValueError says which field is wrong."""
        if not isinstance(body, dict):
            raise ValueError("expected a JSON object")
        unknown = set(body) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown field(s): {', '.join(sorted(unknown))}")
        rate = body.get("error_rate", 0.0)
        if not isinstance(rate, int | float) or isinstance(rate, bool) or not 0 <= rate <= 1:
            raise ValueError("error_rate must be a number from 0 to 1")
        status = body.get("error_status", 503)
        if not isinstance(status, int) or isinstance(status, bool) or not 400 <= status <= 599:
            raise ValueError("error_status must be an HTTP status from 400 to 599")
        latency = body.get("latency_ms", 0.0)
        if (
            not isinstance(latency, int | float)
            or isinstance(latency, bool)
            or not 0 <= latency <= 600_000
        ):
            raise ValueError("latency_ms must be a number from 0 to 600000")
        for flag in ("hang", "include_health"):
            if not isinstance(body.get(flag, False), bool):
                raise ValueError(f"{flag} must be true or false")
        return cls(
            error_rate=float(rate),
            error_status=status,
            latency_ms=float(latency),
            hang=bool(body.get("hang", False)),
            include_health=bool(body.get("include_health", False)),
        )

    @property
    def active(self) -> bool:
        return self.error_rate > 0 or self.latency_ms > 0 or self.hang


class FaultKnob:
    """The current fault of one backend and the middleware that applies it."""

    def __init__(self, rng: random.Random | None = None) -> None:
        self.fault = Fault()
        self.rng = rng or random.Random()
        self._cleared = asyncio.Event()
        self.injected_errors = 0

    def set(self, fault: Fault) -> None:
        self.fault = fault
        if not fault.hang:
            self._release()

    def clear(self) -> None:
        self.fault = Fault()
        self._release()

    def _release(self) -> None:
        self._cleared.set()
        self._cleared = asyncio.Event()

    async def handle(self, request: web.Request) -> web.Response:
        if request.method == "GET":
            return web.json_response(asdict(self.fault))
        if request.method == "DELETE":
            self.clear()
            return web.json_response(asdict(self.fault))
        if request.method != "POST":
            raise web.HTTPMethodNotAllowed(request.method, ["GET", "POST", "DELETE"])
        try:
            fault = Fault.parse(await request.json())
        except ValueError as exc:
            return web.json_response({"error": "bad_fault", "message": str(exc)}, status=400)
        self.set(fault)
        return web.json_response(asdict(fault))

    @web.middleware
    async def middleware(
        self,
        request: web.Request,
        handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
    ) -> web.StreamResponse:
        fault = self.fault
        if request.path == FAULT_PATH or not fault.active:
            return await handler(request)
        if request.path == HEALTH_PATH and not fault.include_health:
            return await handler(request)
        if fault.hang:
            await self._cleared.wait()
        if fault.latency_ms:
            await asyncio.sleep(fault.latency_ms / 1000)
        if fault.error_rate and self.rng.random() < fault.error_rate:
            self.injected_errors += 1
            return web.json_response(
                {"error": "injected_fault", "message": "failure injected by POST /_fault"},
                status=fault.error_status,
            )
        return await handler(request)
