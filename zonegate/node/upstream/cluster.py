"""A runtime upstream cluster: hosts, picking, health, outliers, breakers, pool.

The pure parts (balancer, zone router, outlier detector, breaker, limits)
report through callbacks; this module wires them together and is what the
proxy talks to.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Collection, Sequence

from zonegate.config.upstream import Cluster as ClusterConfig
from zonegate.config.upstream import Endpoint
from zonegate.node.http import Request
from zonegate.node.policy.tls import upstream_ssl_context
from zonegate.node.upstream.balancer import Balancer, make_balancer
from zonegate.node.upstream.breaker import ErrorRateBreaker
from zonegate.node.upstream.health import HealthChecker
from zonegate.node.upstream.host import Host
from zonegate.node.upstream.limits import ResourceLimits
from zonegate.node.upstream.outlier import OutlierDetector
from zonegate.node.upstream.pool import ConnectionPool
from zonegate.node.upstream.zone_aware import ZoneRouter


class ClusterEvents:
    """Callbacks for observability; the defaults do nothing."""

    def ejected(self, cluster: str, host: Host, reason: str) -> None: ...
    def returned(self, cluster: str, host: Host) -> None: ...
    def breaker_state(self, cluster: str, state: str) -> None: ...
    def health_checked(self, cluster: str, host: Host, ok: bool) -> None: ...


class UpstreamCluster:
    """Everything the proxy needs to send a request to one named cluster."""

    def __init__(
        self,
        cfg: ClusterConfig,
        local_zone: str,
        *,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
        events: ClusterEvents | None = None,
        pool: ConnectionPool | None = None,
    ) -> None:
        self.cfg = cfg
        self.name = cfg.name
        self.clock = clock
        self.rng = rng or random.Random()
        self.events = events or ClusterEvents()
        self.balancer: Balancer = make_balancer(cfg.lb, self.rng)
        self.zone_router = ZoneRouter(local_zone, cfg.zone_aware, self.rng)
        self.limits = ResourceLimits(cfg.circuit_breaker)
        self.breaker: ErrorRateBreaker | None = (
            ErrorRateBreaker(cfg.circuit_breaker.error_rate, clock, self._breaker_changed)
            if cfg.circuit_breaker.error_rate.enabled
            else None
        )
        self.outlier: OutlierDetector | None = (
            OutlierDetector(cfg.outlier_detection, clock, self._ejected, self._returned)
            if cfg.outlier_detection is not None
            else None
        )
        self.pool = pool or ConnectionPool(
            max_idle_per_host=cfg.pool.max_idle_per_host,
            idle_timeout_s=cfg.pool.idle_timeout_s,
            ssl_context=upstream_ssl_context(cfg.tls) if cfg.tls is not None else None,
            server_hostname=cfg.tls.sni if cfg.tls is not None else None,
        )
        self.health: HealthChecker | None = None
        self.hosts: list[Host] = []
        self.set_endpoints(cfg.endpoints)
        self.active_requests = 0
        self.active_retries = 0
        self.hash_header = cfg.lb.hash_header.lower().encode() if cfg.lb.hash_header else None
        self.hash_cookie = cfg.lb.hash_cookie

    # --- membership -------------------------------------------------------------
    def set_endpoints(self, endpoints: Sequence[Endpoint]) -> None:
        """Replace the host set; hosts that stay keep their state (health, ejections)."""
        current = {h.address: h for h in self.hosts}
        hosts = []
        for ep in endpoints:
            host = current.get(ep.address)
            if host is None or host.zone != ep.zone or host.weight != ep.weight:
                host = Host.from_endpoint(ep)
            hosts.append(host)
        self.hosts = hosts
        if self.outlier is not None:
            self.outlier.set_hosts(hosts)
        if self.health is not None:
            self.health.set_hosts(hosts)
        self.zone_router.invalidate()

    def start(self) -> None:
        """Start background work (active health checks); needs a running loop."""
        if self.cfg.health_check is not None and self.health is None:
            self.health = HealthChecker(self.cfg.health_check, self._health_result, rng=self.rng)
            self.health.set_hosts(self.hosts)

    async def stop(self) -> None:
        if self.health is not None:
            await self.health.stop()
            self.health = None
        self.pool.close()

    # --- per request --------------------------------------------------------------
    def pick(self, key: bytes | None, exclude: Collection[Host] = ()) -> Host | None:
        candidates = self.zone_router.choose(self.hosts, self.clock())
        if not candidates:
            return None
        return self.balancer.pick(candidates, key, exclude)

    def hash_key(self, req: Request) -> bytes | None:
        """What ring hash hashes: the configured header, or the configured cookie's value."""
        if self.hash_header is not None:
            return req.header(self.hash_header)
        if self.hash_cookie is not None:
            cookies = req.header(b"cookie")
            if cookies:
                prefix = self.hash_cookie.encode() + b"="
                for raw in cookies.split(b";"):
                    part = raw.strip()
                    if part.startswith(prefix):
                        return part[len(prefix) :]
        return None

    def allow_request(self) -> bool:
        return self.breaker is None or self.breaker.allow()

    def record(self, host: Host, *, status: int = 0, local_failure: bool = False) -> None:
        """Feed the outcome of one attempt to the outlier detector and the breaker."""
        failed = local_failure or status >= 500
        if self.outlier is not None:
            if local_failure:
                self.outlier.record_local_failure(host)
            elif status >= 500:
                self.outlier.record_5xx(host)
            else:
                self.outlier.record_success(host)
        if self.breaker is not None:
            self.breaker.record(not failed)

    # --- callbacks ------------------------------------------------------------------
    def _ejected(self, host: Host, reason: str) -> None:
        self.zone_router.invalidate()
        self.events.ejected(self.name, host, reason)

    def _returned(self, host: Host) -> None:
        self.zone_router.invalidate()
        self.events.returned(self.name, host)

    def _breaker_changed(self, state: str) -> None:
        self.events.breaker_state(self.name, state)

    def _health_result(self, host: Host, ok: bool, changed: bool) -> None:
        if changed:
            self.zone_router.invalidate()
        self.events.health_checked(self.name, host, ok)
