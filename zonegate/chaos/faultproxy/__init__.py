"""A TCP fault proxy that speaks the Toxiproxy 2.x HTTP API (``zonegate toxiproxy``).

Programmatic use (no HTTP needed)::

    from zonegate.chaos.faultproxy import FaultProxyServer, ProxySpec, ToxicSpec

    async with FaultProxyServer(port=0) as server:       # API at server.url
        reg = server.registry
        proxy = await reg.create_proxy(ProxySpec("glb_zone_a", "127.0.0.1:0", "127.0.0.1:8001"))
        proxy.listen                                      # "127.0.0.1:<bound port>"
        reg.add_toxic("glb_zone_a", ToxicSpec.build("latency", {"latency": 100}, stream="upstream"))
        reg.remove_toxic("glb_zone_a", "latency_upstream")
        await reg.set_enabled("glb_zone_a", False)        # down: refuse connections
        await reg.reset()                                 # all enabled, no toxics
"""

from zonegate.chaos.faultproxy.errors import (
    BadRequest,
    Conflict,
    FaultProxyError,
    ListenFailed,
    NotFound,
)
from zonegate.chaos.faultproxy.models import TOXIC_TYPES, ProxySpec, Stream, ToxicSpec
from zonegate.chaos.faultproxy.proxy import ProxyRuntime
from zonegate.chaos.faultproxy.registry import ProxyRegistry
from zonegate.chaos.faultproxy.server import (
    DEFAULT_PORT,
    FaultProxyServer,
    build_app,
    load_config_file,
)

__all__ = [
    "DEFAULT_PORT",
    "TOXIC_TYPES",
    "BadRequest",
    "Conflict",
    "FaultProxyError",
    "FaultProxyServer",
    "ListenFailed",
    "NotFound",
    "ProxyRegistry",
    "ProxyRuntime",
    "ProxySpec",
    "Stream",
    "ToxicSpec",
    "build_app",
    "load_config_file",
]
