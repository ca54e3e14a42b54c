"""Latency the fault proxy adds per hop without toxics, at a fixed request rate.

A tiny keep-alive HTTP/1.1 backend (own process, uvloop) answers a 2-byte body.
``zonegate toxiproxy`` runs as its own process with one proxy per hop, chained
(client -> proxy 1 -> ... -> backend). The load generator (this process,
uvloop) sends ``--rate`` requests/s, open loop, over ``--connections``
keep-alive connections and times each request. Every run measures the
backend directly and through 1..``--hops`` hops, interleaved; the table shows
the median of ``--runs`` runs. Added latency per hop = (percentile through N
hops - same percentile direct) / N. Target: p50 < 150 us per hop at 1k req/s.

    .venv/bin/python bench/faultproxy.py [--runs 3] [--duration 5] [--rate 1000] [--hops 2]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import cast

import uvloop
from rich.console import Console
from rich.table import Table

from zonegate.cli.toxiproxy_cmd import READY_PREFIX

console = Console()

REQUEST = b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n"
RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok"
TARGET_P50_US = 150.0


# --- the backend (runs in its own process) -----------------------------------------
class BackendProtocol(asyncio.Protocol):
    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while (end := self.buffer.find(b"\r\n\r\n")) >= 0:
            self.buffer = self.buffer[end + 4 :]
            assert self.transport is not None
            self.transport.write(RESPONSE)


async def serve_backend() -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(BackendProtocol, "127.0.0.1", 0)
    print(f"PORT {server.sockets[0].getsockname()[1]}", flush=True)
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()


# --- the load generator ---------------------------------------------------------------
class ClientProtocol(asyncio.Protocol):
    def __init__(self, samples: list[int]) -> None:
        self.samples = samples
        self.transport: asyncio.Transport | None = None
        self.sent_at = 0
        self.received = 0
        self.busy = False
        self.answered: asyncio.Future[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def send(self) -> None:
        assert self.transport is not None
        self.busy = True
        self.received = 0
        self.sent_at = time.perf_counter_ns()
        self.transport.write(REQUEST)

    def data_received(self, data: bytes) -> None:
        self.received += len(data)
        if self.received >= len(RESPONSE):
            self.samples.append(time.perf_counter_ns() - self.sent_at)
            self.busy = False
            if self.answered is not None and not self.answered.done():
                self.answered.set_result(None)


@dataclass
class Percentiles:
    p50_us: float
    p99_us: float
    count: int


async def measure(port: int, rate: int, duration: float, connections: int) -> Percentiles:
    loop = asyncio.get_running_loop()
    samples: list[int] = []
    clients: list[ClientProtocol] = []
    for _ in range(connections):
        _, proto = await loop.create_connection(lambda: ClientProtocol(samples), "127.0.0.1", port)
        clients.append(proto)
    for proto in clients:  # warm up every connection and hop
        proto.answered = loop.create_future()
        proto.send()
        await asyncio.wait_for(proto.answered, 10)
    samples.clear()
    interval = 1.0 / rate
    started = loop.time()
    next_at = started
    index = 0
    while next_at - started < duration:
        delay = next_at - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        proto = clients[index % connections]
        index += 1
        if not proto.busy:
            proto.send()
        next_at += interval
    await asyncio.sleep(0.2)
    for proto in clients:
        assert proto.transport is not None
        proto.transport.close()
    ordered = sorted(samples)
    return Percentiles(
        ordered[len(ordered) // 2] / 1000, ordered[int(len(ordered) * 0.99)] / 1000, len(ordered)
    )


# --- processes --------------------------------------------------------------------------
@contextmanager
def process(args: list[str], ready: str) -> Iterator[tuple[subprocess.Popen[str], str]]:
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line.startswith(ready):
            raise RuntimeError(f"{args[:4]} did not start: {line!r}")
        yield proc, line.strip()
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def create_chain(api: str, backend_port: int, hops: int) -> list[int]:
    """Proxies hop1 -> hop2 -> ... -> backend; returns each hop's listen port (hop 1 first)."""
    ports: list[int] = []
    upstream = f"127.0.0.1:{backend_port}"
    for hop in range(hops, 0, -1):
        body = json.dumps({"name": f"hop{hop}", "listen": "127.0.0.1:0", "upstream": upstream})
        request = urllib.request.Request(
            f"{api}/proxies", data=body.encode(), headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=5) as resp:
            listen = json.loads(resp.read())["listen"]
        upstream = listen
        ports.insert(0, int(listen.rsplit(":", 1)[1]))
    return ports


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per measurement")
    parser.add_argument("--rate", type=int, default=1000, help="requests per second")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--hops", type=int, default=2, help="measure 1..N chained proxies")
    parser.add_argument("--serve-backend", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_backend:
        uvloop.run(serve_backend())
        return 0

    python = sys.executable
    script = [python, __file__, "--serve-backend"]
    toxiproxy = [python, "-m", "zonegate.cli.main", "toxiproxy", "--port", "0"]
    results: dict[int, list[Percentiles]] = {hops: [] for hops in range(args.hops + 1)}
    with process(script, "PORT") as (_, line), process(toxiproxy, READY_PREFIX) as (_, ready):
        backend_port = int(line.split()[1])
        api = ready.removeprefix(READY_PREFIX)
        entry = [backend_port, *create_chain(api, backend_port, args.hops)]
        # entry[0] = direct; the chain through N hops starts at the proxy N hops from the backend
        chain_entry = {0: backend_port}
        ports = entry[1:]
        for hops in range(1, args.hops + 1):
            chain_entry[hops] = ports[args.hops - hops]
        for run in range(1, args.runs + 1):
            for hops in range(args.hops + 1):
                result = uvloop.run(
                    measure(chain_entry[hops], args.rate, args.duration, args.connections)
                )
                results[hops].append(result)
                console.print(
                    f"run {run} hops {hops}: p50 {result.p50_us:.0f} us, "
                    f"p99 {result.p99_us:.0f} us ({result.count} requests)"
                )
    print_table(results, args)
    return 0


def print_table(results: dict[int, list[Percentiles]], args: argparse.Namespace) -> None:
    table = Table(
        title=(
            f"fault proxy overhead, no toxics: {args.rate} req/s, {args.connections} keep-alive "
            f"connections, {args.duration:.0f} s per run, median of {args.runs} runs"
        )
    )
    for column in ("path", "p50 us", "p99 us", "added p50 / hop", "added p99 / hop", "target"):
        table.add_column(column, justify="right" if column != "path" else "left")
    base_p50 = statistics.median(r.p50_us for r in results[0])
    base_p99 = statistics.median(r.p99_us for r in results[0])
    for hops, runs in results.items():
        p50 = statistics.median(r.p50_us for r in runs)
        p99 = statistics.median(r.p99_us for r in runs)
        if hops == 0:
            table.add_row("direct", f"{p50:.0f}", f"{p99:.0f}", "-", "-", "")
            continue
        # per run, then the median: runs are interleaved so each has its own baseline
        added50 = statistics.median(
            (r.p50_us - b.p50_us) / hops for r, b in zip(runs, results[0], strict=True)
        )
        added99 = statistics.median(
            (r.p99_us - b.p99_us) / hops for r, b in zip(runs, results[0], strict=True)
        )
        ok = "[green]ok[/]" if added50 < TARGET_P50_US else "[red]over[/]"
        table.add_row(
            f"{hops} hop{'s' if hops > 1 else ''}",
            f"{p50:.0f}",
            f"{p99:.0f}",
            f"{added50:.0f}",
            f"{added99:.0f}",
            f"{ok} (p50 < {TARGET_P50_US:.0f})",
        )
    console.print(table)
    console.print(f"direct baseline medians: p50 {base_p50:.0f} us, p99 {base_p99:.0f} us")


if __name__ == "__main__":
    sys.exit(main())
