"""``zonegate toxiproxy``: the Toxiproxy-compatible TCP fault proxy (API on 127.0.0.1:8474).

Flags mirror ``toxiproxy-server`` (``-host``, ``-port``, ``-config``, ``-seed``;
the double-dash spellings work too). Once the API listens, one line goes to
stdout: ``zonegate toxiproxy: API listening on http://HOST:PORT`` (with
``--port 0`` that is how callers learn the port). SIGTERM/SIGINT stop it.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import random
import signal
import sys
from typing import Any

from zonegate.chaos.faultproxy import (
    DEFAULT_PORT,
    FaultProxyError,
    FaultProxyServer,
    ProxyRegistry,
    ProxySpec,
    load_config_file,
)

READY_PREFIX = "zonegate toxiproxy: API listening on "


def _port(value: str) -> int:
    if not value.isdigit() or int(value) > 65535:
        raise argparse.ArgumentTypeError(f"expected a port number 0..65535, got {value!r}")
    return int(value)


def register(subparsers: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "toxiproxy",
        help="run the Toxiproxy-compatible TCP fault proxy",
        description=(
            "Serve the Toxiproxy 2.x HTTP API (proxies, toxics, /populate, /reset) and "
            "proxy TCP with latency, bandwidth, slow_close, timeout, reset_peer, slicer and "
            "limit_data toxics. Clients written for Toxiproxy work unchanged."
        ),
    )
    parser.add_argument("--host", "-host", default="127.0.0.1", help="API host (127.0.0.1)")
    parser.add_argument(
        "--port", "-port", type=_port, default=DEFAULT_PORT, help="API port (8474; 0: pick one)"
    )
    parser.add_argument(
        "--config",
        "-config",
        metavar="FILE",
        help="JSON array of proxies to create at start (as toxiproxy-server -config)",
    )
    parser.add_argument(
        "--seed", "-seed", type=int, default=None, help="seed for toxicity and jitter rolls"
    )
    parser.set_defaults(handler=cmd_toxiproxy)
    return parser


def cmd_toxiproxy(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s %(message)s")
    specs: list[ProxySpec] = []
    if args.config:
        try:
            specs = load_config_file(args.config)
        except FaultProxyError as exc:
            # As toxiproxy-server: report it and serve without those proxies.
            print(f"error: {exc.message}; starting without them", file=sys.stderr)
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency
        return asyncio.run(serve(args.host, args.port, specs, args.seed))
    result: int = uvloop.run(serve(args.host, args.port, specs, args.seed))
    return result


async def serve(host: str, port: int, specs: list[ProxySpec], seed: int | None) -> int:
    server = FaultProxyServer(host, port, registry=ProxyRegistry(rng=random.Random(seed)))
    try:
        await server.start()
    except OSError as exc:
        print(f"error: cannot listen on {host}:{port}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    try:
        if specs:
            try:
                proxies = await server.populate(specs)
                for proxy in proxies:
                    print(f"proxy {proxy.name}: {proxy.listen} -> {proxy.upstream}")
            except FaultProxyError as exc:
                print(f"error: populating from the config file: {exc.message}", file=sys.stderr)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        print(f"{READY_PREFIX}{server.url}", flush=True)
        await stop.wait()
    finally:
        await server.stop()
    return 0
