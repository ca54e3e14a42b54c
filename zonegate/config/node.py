"""Settings of a gateway node's listener: address, limits, timeouts."""

from __future__ import annotations

from pydantic import Field

from zonegate.config.base import Seconds, StrictModel
from zonegate.config.node_ops import (
    AccessLogSettings,
    AdminSettings,
    DrainSettings,
    ListenerTLS,
    TracingSettings,
)


class Limits(StrictModel):
    """Protection against bad or slow clients."""

    max_header_bytes: int = Field(default=65536, ge=1024, description="431 above this")
    max_headers: int = Field(default=100, ge=1, description="431 above this many headers")
    max_body_bytes: int = Field(default=1 << 30, ge=0, description="413 above this")
    header_timeout_s: Seconds = Field(default=10.0, description="408 when headers take longer")
    idle_timeout_s: Seconds = 60.0


class Listener(StrictModel):
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    limits: Limits = Limits()
    server_header: bool = False
    tls: ListenerTLS | None = None


class NodeSettings(StrictModel):
    """Defaults for every node; the command line sets the node's own id and zone."""

    listener: Listener = Listener()
    zone: str = Field(default="local", description="zone of this node when not given on the CLI")
    admin: AdminSettings = AdminSettings()
    drain: DrainSettings = DrainSettings()
    access_log: AccessLogSettings = AccessLogSettings()
    tracing: TracingSettings = TracingSettings()
