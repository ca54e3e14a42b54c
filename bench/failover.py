"""GLB failover on a real local cluster: how fast traffic leaves a dead node or zone.

Starts the default 3-zone cluster (``zonegate up``: real etcd, nodes, GLBs,
backends as processes) in a temporary run directory, sends a steady open-loop
load (``--rate`` req/s, default 500) through both GLB replicas, timestamps
every request itself (not locust's 10 s windows) and runs, one after another:

- node-kill:   SIGKILL one gateway node of the clients' zone;
- zone-kill:   SIGKILL every gateway node of the clients' zone;
- zone-back:   start them again: failback after the hold-down, over the ramp;
- zone-drain:  planned evacuation (SIGTERM, the nodes drain) of a zone.

For each case it prints detection time (fault -> both GLBs' /status show the
node or zone down), failover time (fault -> first of 3 consecutive 100 ms bins
fully served elsewhere), errors in the 5 s around the fault, and p99, next to
the reference figures of other global load balancers.

    .venv/bin/python bench/failover.py [--rate 500] [--json FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
from rich.console import Console
from rich.table import Table

from zonegate.cluster import api
from zonegate.cluster.control import ClusterControl

console = Console(width=140)
BIN_S = 0.1


@dataclass
class Sample:
    at: float
    latency: float
    status: int
    zone: str
    node: str


@dataclass
class Case:
    name: str
    fault_at: float = 0.0
    detected_at: float | None = None
    samples: list[Sample] = field(default_factory=list)
    target: str = ""
    extra: dict[str, float] = field(default_factory=dict)

    def window(self, before: float = 2.5, after: float = 2.5) -> list[Sample]:
        return [s for s in self.samples if self.fault_at - before <= s.at <= self.fault_at + after]

    @property
    def detect_s(self) -> float | None:
        return None if self.detected_at is None else self.detected_at - self.fault_at

    def failover_s(self, away_from: str) -> float | None:
        """First of 3 consecutive bins after the fault with every answer 2xx from another zone."""
        bins: dict[int, list[Sample]] = {}
        for s in self.samples:
            if s.at >= self.fault_at:
                bins.setdefault(int((s.at - self.fault_at) / BIN_S), []).append(s)
        good = [
            i
            for i, b in sorted(bins.items())
            if b and all(s.status < 500 and s.zone and s.zone != away_from for s in b)
        ]
        for i in good:
            if i + 1 in good and i + 2 in good:
                return i * BIN_S
        return None


class Load:
    """Open-loop load: one request every 1/rate seconds, whatever the answers do."""

    def __init__(self, urls: list[str], rate: float, region: str) -> None:
        self.urls = urls
        self.rate = rate
        self.region = region
        self.samples: list[Sample] = []
        self._task: asyncio.Task[None] | None = None
        self._inflight: set[asyncio.Task[None]] = set()

    async def _one(self, session: aiohttp.ClientSession, url: str) -> None:
        started = time.monotonic()
        status, zone, node = 0, "", ""
        try:
            async with session.get(url, headers={"x-client-region": self.region}) as resp:
                await resp.read()
                status = resp.status
                zone = resp.headers.get("x-zonegate-zone", "")
                node = resp.headers.get("x-zonegate-node", "")
        except (aiohttp.ClientError, TimeoutError):
            status = 0
        self.samples.append(Sample(started, time.monotonic() - started, status, zone, node))

    async def _run(self) -> None:
        timeout = aiohttp.ClientTimeout(total=5)
        connector = aiohttp.TCPConnector(limit=512)
        async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
            interval = 1.0 / self.rate
            next_at = time.monotonic()
            i = 0
            while True:
                url = self.urls[i % len(self.urls)] + "/catalog/items/3"
                task = asyncio.create_task(self._one(session, url))
                self._inflight.add(task)
                task.add_done_callback(self._inflight.discard)
                i += 1
                next_at += interval
                await asyncio.sleep(max(0.0, next_at - time.monotonic()))

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        assert self._task is not None
        self._task.cancel()
        try:
            await self._task
        except asyncio.CancelledError:
            pass
        if self._inflight:
            await asyncio.gather(*self._inflight, return_exceptions=True)


async def glb_status(session: aiohttp.ClientSession, admin: str) -> dict[str, object]:
    async with session.get(f"{admin}/status") as resp:
        data: dict[str, object] = await resp.json()
        return data


async def wait_detected(
    control: ClusterControl, predicate: str, zone: str, node: str = "", timeout: float = 20
) -> float | None:
    """When every GLB's /status shows ``node`` unhealthy (or ``zone`` with 0 healthy)."""
    admins = [control.url(name, admin=True) for name in control.names("glb")]
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=1)) as session:
        while time.monotonic() < deadline:
            seen = 0
            for admin in admins:
                try:
                    status = await glb_status(session, admin)
                except (aiohttp.ClientError, TimeoutError):
                    continue
                zones = status["zones"]
                assert isinstance(zones, dict)
                info = zones.get(zone, {})
                if predicate == "node-down":
                    nodes = [n for n in info.get("nodes", []) if n["id"] == node]
                    seen += bool(nodes) and not nodes[0]["healthy"]
                elif predicate == "zone-down":
                    seen += info.get("healthy", 1) == 0
                elif predicate == "zone-up":
                    seen += info.get("effective_health", 0) >= 1.0
            if seen == len(admins):
                return time.monotonic()
            await asyncio.sleep(0.02)
    return None


def summarize(case: Case, away_from: str) -> dict[str, object]:
    window = case.window()
    failed = [s for s in window if s.status == 0 or s.status >= 500]
    latencies = sorted(s.latency for s in window if s.status and s.status < 500)
    p99 = latencies[int(0.99 * (len(latencies) - 1))] * 1000 if latencies else float("nan")
    failover = case.failover_s(away_from) if away_from else None
    return {
        "case": case.name,
        "detect_s": case.detect_s,
        "failover_s": failover,
        "requests": len(window),
        "failed": len(failed),
        "error_pct": 100 * len(failed) / len(window) if window else 0.0,
        "p99_ms": p99,
        "target": case.target,
        **case.extra,
    }


def failback_figures(case: Case, zone: str) -> dict[str, float]:
    """Seconds from restart until the first answer from ``zone`` and until all of them are."""
    first = next((s.at for s in case.samples if s.at >= case.fault_at and s.zone == zone), None)
    bins: dict[int, list[Sample]] = {}
    for s in case.samples:
        if s.at >= case.fault_at:
            bins.setdefault(int((s.at - case.fault_at) / BIN_S), []).append(s)
    full = next(
        (i * BIN_S for i, b in sorted(bins.items()) if b and all(s.zone == zone for s in b)),
        None,
    )
    out: dict[str, float] = {}
    if first is not None:
        out["first_answer_s"] = first - case.fault_at
    if full is not None:
        out["all_back_s"] = full
    return out


async def bench(rate: float) -> list[dict[str, object]]:
    results: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory(prefix="zonegate-failover-") as tmp:
        console.print("starting the local cluster (zonegate up) ...")
        started = time.monotonic()
        control = await asyncio.to_thread(api.up, None, Path(tmp) / "run")
        console.print(f"cluster healthy in {time.monotonic() - started:.1f}s")
        try:
            eu_node = control.names("eu-west-1a/nodes")[0]
            # (case, clients' region, ctl verb, zone/what, zone traffic must leave)
            cases = [
                ("node-kill", "eu-west-1", "kill", f"eu-west-1a/{eu_node}", ""),
                ("zone-kill", "us-east-1", "kill", "us-east-1a/nodes", "us-east-1a"),
                ("zone-back", "us-east-1", "start", "us-east-1a/nodes", ""),
                ("zone-drain", "eu-west-1", "drain", "eu-west-1a/nodes", "eu-west-1a"),
            ]
            targets = {
                "node-kill": "errors <= 0.1%, out of rotation < 1 s",
                "zone-kill": "failover < 1.5 s, errors <= 0.5%",
                "zone-back": "failback after hold-down, done in hold-down + ramp, 0 errors",
                "zone-drain": "0 errors",
            }
            for name, region, action, target, away in cases:
                console.print(f"[bold]{name}[/]: {action} {target} ({region} clients)")
                ctl_target = target.split("/", 1)[1] if name == "node-kill" else target
                case = Case(name, target=targets[name])
                case = await run_case_named(control, case, region, rate, action, target, ctl_target)
                if name == "zone-back":
                    case.extra = failback_figures(case, "us-east-1a")
                results.append(summarize(case, away))
                if name == "node-kill":
                    await asyncio.to_thread(control.start, ctl_target)
        finally:
            console.print("stopping the cluster ...")
            await asyncio.to_thread(api.down, Path(tmp) / "run")
    return results


async def run_case_named(
    control: ClusterControl,
    case: Case,
    region: str,
    rate: float,
    action: str,
    target: str,
    ctl_target: str,
) -> Case:
    """``target`` is zone/what for detection; ``ctl_target`` what ``zonegate ctl`` acts on."""
    load = Load(control.entry_points(), rate, region)
    load.start()
    await asyncio.sleep(3.0)
    case.fault_at = time.monotonic()
    await asyncio.to_thread(getattr(control, action), ctl_target)
    zone, _, what = target.partition("/")
    if action == "kill" and what != "nodes":
        case.detected_at = await wait_detected(control, "node-down", zone, what)
    elif action in ("kill", "drain"):
        case.detected_at = await wait_detected(control, "zone-down", zone)
    else:
        case.detected_at = await wait_detected(control, "zone-up", zone, timeout=40)
    await asyncio.sleep(4.0)
    await load.stop()
    case.samples = load.samples
    return case


def print_table(results: list[dict[str, object]], rate: float) -> None:
    def fmt(value: object, spec: str) -> str:
        return "-" if value is None else format(value, spec)

    table = Table(title=f"bench/failover.py: {rate:g} req/s through 2 GLB replicas")
    for col in ("case", "detect s", "failover s", "failed / requests", "errors %", "p99 ms",
                "other", "target"):  # fmt: skip
        table.add_column(col)
    for r in results:
        other = ", ".join(f"{k} {v:.2f}" for k, v in r.items() if k.endswith("_s") and
                          k not in ("detect_s", "failover_s"))  # fmt: skip
        table.add_row(
            str(r["case"]),
            fmt(r["detect_s"], ".3f"),
            fmt(r["failover_s"], ".2f"),
            f"{r['failed']} / {r['requests']}",
            fmt(r["error_pct"], ".2f"),
            fmt(r["p99_ms"], ".0f"),
            other,
            str(r["target"]),
        )
    for name, detect in (
        ("reference: HAProxy defaults (inter 2s, fall 3)", "~6"),
        ("reference: GCP load balancer health checks", "~10-15"),
        ("reference: Route 53 / Global Accelerator", "~30-90 + DNS TTL"),
    ):
        table.add_row(name, detect, "", "", "", "", "", "")
    console.print(table)


def main() -> int:
    parser = argparse.ArgumentParser(description="GLB failover on a real local cluster")
    parser.add_argument("--rate", type=float, default=500.0, help="requests per second")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    if args.rate <= 0:
        parser.error("--rate must be positive")
    results = asyncio.run(bench(args.rate))
    print_table(results, args.rate)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
