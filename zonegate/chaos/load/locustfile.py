"""The locust user of ``zonegate drill``: sends the experiment's request mix and records
every request (start time, latency, status, serving zone and node) as JSON lines.

Run only by locust in its own process (``locust --headless -f this_file``); it
imports nothing from zonegate so gevent's patching meets no asyncio code.
Settings come from the environment: ``ZONEGATE_LOAD_SPEC`` (JSON: requests,
headers, rate_per_user, timeout_s) and ``ZONEGATE_LOAD_LOG`` (the output
file). Lines are buffered and flushed every 100 ms, so the drill reads a
timeline with sub-second resolution while the load runs.
"""

from __future__ import annotations

import json
import os
import random
import uuid
from typing import Any

import gevent  # type: ignore[import-untyped]
from locust import constant, constant_throughput, events, task
from locust.contrib.fasthttp import FastHttpUser

FLUSH_INTERVAL_S = 0.1
SPEC: dict[str, Any] = json.loads(os.environ.get("ZONEGATE_LOAD_SPEC") or "{}")
LOG_PATH = os.environ.get("ZONEGATE_LOAD_LOG", "requests.jsonl")
REQUESTS: list[dict[str, Any]] = SPEC.get("requests") or [{"method": "GET", "path": "/"}]
WEIGHTS = [int(r.get("weight", 1)) for r in REQUESTS]
BASE_HEADERS: dict[str, str] = dict(SPEC.get("headers") or {})
RATE = float(SPEC.get("rate_per_user", 0) or 0)
TIMEOUT = float(SPEC.get("timeout_s", 5.0))
COOKIES = bool(SPEC.get("cookies", False))


class RecordWriter:
    """Buffers lines; a greenlet writes them out every 100 ms."""

    def __init__(self, path: str) -> None:
        self.handle = open(path, "a", encoding="utf-8")  # noqa: SIM115 - closed on quit
        self.buffer: list[str] = []
        self.flusher = gevent.spawn(self._loop)

    def add(self, line: str) -> None:
        self.buffer.append(line)

    def flush(self) -> None:
        lines, self.buffer = self.buffer, []  # greenlets do not preempt: no lock needed
        if lines:
            self.handle.write("".join(lines))
            self.handle.flush()

    def _loop(self) -> None:
        while True:
            gevent.sleep(FLUSH_INTERVAL_S)
            self.flush()

    def close(self) -> None:
        self.flusher.kill(block=False)
        self.flush()
        self.handle.close()


WRITER: RecordWriter | None = None


def _header(response: Any, name: str) -> str:
    headers = getattr(response, "headers", None)
    if not headers:
        return ""
    try:
        value = headers.get(name) or headers.get(name.title())
    except Exception:
        return ""
    return str(value or "")


def _open(environment: Any, **_kw: Any) -> None:
    global WRITER
    WRITER = RecordWriter(LOG_PATH)


def _record(
    request_type: str,
    name: str,
    response_time: float,
    response_length: int,
    response: Any = None,
    exception: BaseException | None = None,
    start_time: float | None = None,
    **_kw: Any,
) -> None:
    if WRITER is None:
        return
    status = int(getattr(response, "status_code", 0) or 0)
    record: dict[str, Any] = {
        "t": round(start_time or 0.0, 6),
        "ms": round(float(response_time or 0.0), 3),
        "s": status,
    }
    zone = _header(response, "x-zonegate-zone")
    node = _header(response, "x-zonegate-node")
    if zone:
        record["z"] = zone
    if node:
        record["n"] = node
    record["r"] = name
    if exception is not None and (status == 0 or status >= 500):
        record["e"] = f"{type(exception).__name__}: {exception}"[:200]
    WRITER.add(json.dumps(record, separators=(",", ":")) + "\n")


def _close(environment: Any, **_kw: Any) -> None:
    if WRITER is not None:
        WRITER.close()


events.init.add_listener(_open)  # type: ignore[no-untyped-call]
events.request.add_listener(_record)  # type: ignore[no-untyped-call]
events.quitting.add_listener(_close)  # type: ignore[no-untyped-call]


def _headers(extra: dict[str, str]) -> dict[str, str]:
    merged = {**BASE_HEADERS, **extra}
    return {k: v.replace("{uuid}", uuid.uuid4().hex) for k, v in merged.items()}


class DrillUser(FastHttpUser):
    """Picks a request from the mix by weight; ``rate_per_user`` requests per second."""

    wait_time = constant_throughput(RATE) if RATE > 0 else constant(0)
    network_timeout = TIMEOUT
    connection_timeout = min(TIMEOUT, 2.0)
    max_retries = 0

    def on_start(self) -> None:
        if not COOKIES:  # every request a new client: no affinity cookie pins it to a zone
            self.client.client.cookiejar = None

    @task
    def send(self) -> None:
        spec = random.choices(REQUESTS, weights=WEIGHTS)[0]
        name = spec.get("name") or f"{spec.get('method', 'GET')} {spec['path']}"
        self.client.request(
            spec.get("method", "GET"),
            spec["path"],
            name=name,
            data=spec.get("body"),
            headers=_headers(dict(spec.get("headers") or {})),
        )
