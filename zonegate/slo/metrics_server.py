"""A /metrics server with the node's and GLB's metric names, served by aiohttp from a real
prometheus_client registry: stands in for gateway nodes in SLO tests, the bench and demos."""

from __future__ import annotations

import socket

from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)

from zonegate import conventions as cv

BUCKETS = cv.DURATION_BUCKETS


class MetricsServer:
    """``/metrics`` of one node (or GLB) in ``zone``; ``restart()`` resets every counter."""

    def __init__(self, zone: str, node: str, *, edge: bool = False) -> None:
        self.zone = zone
        self.node = node
        self.edge = edge
        self.port = 0
        self.runner: web.AppRunner | None = None
        self.scrapes = 0
        self.status = 200
        self._new_registry()

    def _new_registry(self) -> None:
        self.registry = CollectorRegistry()
        if self.edge:
            self.requests = Counter(
                cv.GLB_REQUESTS_TOTAL.removesuffix("_total"),
                "edge requests",
                [cv.LABEL_ZONE, cv.LABEL_REGION, cv.LABEL_STATUS_CLASS],
                registry=self.registry,
            )
            self.duration = Histogram(
                cv.GLB_REQUEST_DURATION,
                "edge duration",
                [cv.LABEL_ZONE, cv.LABEL_REGION],
                buckets=BUCKETS,
                registry=self.registry,
            )
        else:
            self.requests = Counter(
                cv.NODE_REQUESTS_TOTAL.removesuffix("_total"),
                "requests",
                [
                    cv.LABEL_ROUTE,
                    cv.LABEL_CLUSTER,
                    cv.LABEL_ZONE,
                    cv.LABEL_NODE,
                    cv.LABEL_STATUS_CLASS,
                ],
                registry=self.registry,
            )
            self.duration = Histogram(
                cv.NODE_REQUEST_DURATION,
                "duration",
                [cv.LABEL_ROUTE, cv.LABEL_CLUSTER, cv.LABEL_ZONE],
                buckets=BUCKETS,
                registry=self.registry,
            )

    def record(
        self,
        status: int,
        n: int = 1,
        *,
        route: str = "api",
        seconds: float = 0.01,
        region: str = "eu",
    ) -> None:
        cls = cv.status_class(status)
        if self.edge:
            self.requests.labels(self.zone, region, cls).inc(n)
            for _ in range(n):
                self.duration.labels(self.zone, region).observe(seconds)
        else:
            self.requests.labels(route, "app", self.zone, self.node, cls).inc(n)
            for _ in range(n):
                self.duration.labels(route, "app", self.zone).observe(seconds)

    def restart(self) -> None:
        """The process restarted: every counter starts again from zero."""
        self._new_registry()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/metrics"

    async def _metrics(self, request: web.Request) -> web.Response:
        self.scrapes += 1
        if self.status != 200:
            return web.Response(status=self.status, text="unavailable")
        return web.Response(
            body=generate_latest(self.registry), headers={"Content-Type": CONTENT_TYPE_LATEST}
        )

    async def start(self) -> None:
        """Listen on a fresh port, or on the same one again after :meth:`stop`."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port))
        self.port = sock.getsockname()[1]
        app = web.Application()
        app.router.add_get(cv.ADMIN_METRICS, self._metrics)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        await web.SockSite(self.runner, sock).start()

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None


def add_noise(server: MetricsServer, hosts: int = 6) -> None:
    """Families a real node exposes besides the SLO ones (the scraper must skip them)."""
    from prometheus_client import Gauge, GCCollector, PlatformCollector, ProcessCollector

    ProcessCollector(registry=server.registry)
    PlatformCollector(registry=server.registry)
    GCCollector(registry=server.registry)
    upstream = Histogram(
        cv.UPSTREAM_REQUEST_DURATION,
        "upstream",
        [cv.LABEL_CLUSTER, cv.LABEL_HOST],
        registry=server.registry,
    )
    healthy = Gauge(
        cv.UPSTREAM_HOST_HEALTHY,
        "healthy",
        [cv.LABEL_CLUSTER, cv.LABEL_HOST],
        registry=server.registry,
    )
    for i in range(hosts):
        upstream.labels("app", f"10.0.0.{i}:80").observe(0.01 * i)
        healthy.labels("app", f"10.0.0.{i}:80").set(1)


async def _serve_many(count: int, routes: int, rate: float) -> None:
    import asyncio
    import json
    import random

    servers = [MetricsServer(f"zone-{i % 3}", f"node-{i}") for i in range(count)]
    for server in servers:
        add_noise(server)
        await server.start()
    print(json.dumps({"urls": [s.url for s in servers]}), flush=True)
    rng = random.Random(7)
    tick = 0.1
    while True:
        for server in servers:
            for r in range(routes):
                n = max(1, round(rate * tick / routes))
                server.record(200, n, route=f"route-{r}", seconds=rng.random() * 0.3)
                if rng.random() < 0.05:
                    server.record(503, 1, route=f"route-{r}")
        await asyncio.sleep(tick)


def main() -> None:
    """``python -m zonegate.slo.metrics_server --count 12``: serve N nodes' /metrics under
    synthetic traffic (prints their URLs as JSON), until killed."""
    import argparse
    import asyncio

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--count", type=int, default=12)
    parser.add_argument("--routes", type=int, default=5)
    parser.add_argument("--rate", type=float, default=200.0, help="requests/s per node")
    args = parser.parse_args()
    asyncio.run(_serve_many(args.count, args.routes, args.rate))


if __name__ == "__main__":
    main()
