"""Run one gateway node in this process: listener, admin listener, metrics, tracing, drain.

SIGTERM/SIGINT (or ``POST /drain``) drains the node and the process exits 0
once every in-flight request is done (1 when the drain timed out); a second
signal cuts the grace period short. SIGHUP re-reads the TLS certificate and
reopens the access log (after rotation).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from dataclasses import dataclass, field

import uvloop

from zonegate.config.model import ClusterConfig
from zonegate.config.node import NodeSettings
from zonegate.coordinator.global_ratelimit import GlobalRateLimits
from zonegate.coordinator.keys import Keys
from zonegate.node import compiled
from zonegate.node.compose.upstream_send import cluster_sender
from zonegate.node.delivery.metrics import MirrorCollector
from zonegate.node.filters.policy_build import route_filter_builder
from zonegate.node.filters.policy_deps import PolicyDeps, PolicyState
from zonegate.node.filters.policy_metrics import PrometheusPolicyObserver
from zonegate.node.ops.admin import AdminServer, AdminState, check_binding, load_admin_token
from zonegate.node.ops.assembly import NodeOps
from zonegate.node.ops.coordination import NodeCoordination
from zonegate.node.ops.drain import DrainController
from zonegate.node.ops.logs import setup_json_logging
from zonegate.node.ops.tls import CertificateReloader
from zonegate.node.runtime import GatewayNode

log = logging.getLogger("zonegate.node")


@dataclass(frozen=True)
class NodeOptions:
    node_id: str
    zone: str
    host: str | None = None
    port: int | None = None
    reuse_port: bool = False
    settings: NodeSettings | None = None
    """The node settings with command-line overrides (default: the config's)."""
    etcd: str | None = None
    """etcd endpoints (``host:port,...``): register, follow the config, discover services."""
    advertise: str | None = None
    """The address registered in etcd (default: the listener's)."""
    lease_ttl: int = 3
    environ: dict[str, str] = field(default_factory=lambda: dict(os.environ))


class NodeProcess:
    """Everything one node process runs, started and stopped in order."""

    def __init__(self, config: ClusterConfig, options: NodeOptions) -> None:
        self.options = options
        self.settings = settings = options.settings or config.node
        self.admin_token = load_admin_token(settings.admin.token_file, options.environ)
        if settings.admin.enabled:
            check_binding(settings.admin.host, self.admin_token)
        tls = settings.listener.tls
        self.ops = NodeOps(settings, options.node_id, options.zone)
        self.tls = (
            CertificateReloader(tls, on_reload=self.ops.tls_reloaded) if tls is not None else None
        )
        self.global_limits = (  # scope: cluster limits, shared through etcd
            GlobalRateLimits(
                Keys(config.cluster), options.node_id, options.zone, registry=self.ops.registry
            )
            if options.etcd
            else None
        )
        self.policy_deps = PolicyDeps(
            node=options.node_id,
            zone=options.zone,
            state=PolicyState(),  # rate limiters and the key cache outlive config reloads
            send=cluster_sender(lambda: self.node.snapshot.clusters),
            global_rate_limits=self.global_limits.backend if self.global_limits else None,
            observer=PrometheusPolicyObserver(self.ops.registry, options.node_id, options.zone),
        )
        self.node = GatewayNode(
            config,
            node_id=options.node_id,
            zone=options.zone,
            route_filters=route_filter_builder(self.policy_deps),
            **self.ops.node_kwargs(),
        )
        self.ops.registry.register(
            MirrorCollector(self.node.proxy.shadow, options.node_id, options.zone)
        )
        self.drain = DrainController(
            self.node, settings.drain, on_start=lambda: self.ops.metrics.set_draining(True)
        )
        self.admin = AdminServer(
            AdminState(self.node, self.ops.registry, self.admin_token, self.drain.request)
        )
        self.coordination: NodeCoordination | None = None
        self.address: tuple[str, int] | None = None
        self.admin_address: tuple[str, int] | None = None

    async def start(self) -> None:
        options = self.options
        self.ops.start()
        if self.tls is not None:
            self.ops.tls_reloaded(True, self.tls.expiry)
            self.tls.start()
        self.address = await self.node.start(
            options.host,
            options.port,
            reuse_port=options.reuse_port,
            ssl=self.tls.listener_context if self.tls is not None else None,
        )
        admin = self.settings.admin
        if admin.enabled:
            self.admin_address = await self.admin.start(admin.host, admin.port)
        if options.etcd:
            await self._start_coordination(options.etcd)

    async def _start_coordination(self, endpoints: str) -> None:
        """Register, follow the config and discover services; never waits for etcd."""
        assert self.address is not None
        admin = self.admin_address
        coordination = NodeCoordination(
            self.node,
            endpoints,
            address=self.options.advertise or f"{self.address[0]}:{self.address[1]}",
            admin_address=f"{admin[0]}:{admin[1]}" if admin is not None else "",
            registry=self.ops.registry,
            lease_ttl=self.options.lease_ttl,
        )
        self.coordination = coordination
        self.drain.before.append(coordination.before_drain)
        self.admin.state.extra_status = coordination.status
        self.admin.state.config_source = coordination.config_source
        await coordination.start()
        if (limits := self.global_limits) is not None:
            limits.start(coordination.client)
            self.admin.state.extra_status = lambda: {
                **coordination.status(),
                "global_rate_limits": limits.status(),
            }

    def ready_line(self) -> str:
        assert self.address is not None
        host, port = self.address
        line = (
            f"zonegate node {self.options.node_id} ({self.options.zone}) listening on {host}:{port}"
        )
        if self.tls is not None:
            line += " (tls)"
        if self.admin_address is not None:
            line += f", admin on {self.admin_address[0]}:{self.admin_address[1]}"
        return line

    def install_signals(self) -> None:
        loop = asyncio.get_running_loop()

        def stop() -> None:
            if not self.drain.request():
                self.drain.hurry()

        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop)
        loop.add_signal_handler(signal.SIGHUP, self.reload_files)

    def reload_files(self) -> None:
        if self.tls is not None:
            self.tls.check()
        if self.ops.writer is not None:
            self.ops.writer.reopen()

    async def stop(self) -> None:
        if self.global_limits is not None:
            await self.global_limits.stop()
        if self.coordination is not None:
            await self.coordination.stop()
        await self.admin.stop()
        await self.node.stop()
        if self.tls is not None:
            await self.tls.stop()
        await self.ops.close()


async def serve(config: ClusterConfig, options: NodeOptions) -> int:
    process = NodeProcess(config, options)
    try:
        await process.start()
        print(process.ready_line(), flush=True)
        current, hot_path = compiled.describe()
        (log.info if current else log.warning)("node_hot_path", extra={"hot_path": hot_path})
        process.install_signals()
        clean = await process.drain.wait()
    finally:
        await process.stop()
    log.info("node_stopped", extra={"clean": clean})
    return 0 if clean else 1


def run(config: ClusterConfig, options: NodeOptions) -> int:
    setup_json_logging({"node": options.node_id, "zone": options.zone})
    return uvloop.run(serve(config, options))
