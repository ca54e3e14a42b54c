"""The node's admin listener (aiohttp, its own port, loopback by default).

``GET /healthz`` (process alive) and ``GET /readyz`` (200 ready, 503 while
draining or not yet listening) are open, so load balancers and kubelets can
probe them. ``GET /metrics``, ``GET /config``, ``GET /status`` and
``POST /drain`` need ``Authorization: Bearer <token>`` when a token is set;
bound to a non-loopback address the listener refuses to start without one.
"""

from __future__ import annotations

import hmac
import ipaddress
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from zonegate import conventions as cv
from zonegate.node.ops.errors import AdminConfigError
from zonegate.node.runtime import GatewayNode

MIN_TOKEN_LENGTH = 16
PUBLIC_PATHS = frozenset({cv.ADMIN_HEALTHZ, cv.ADMIN_READYZ})


@dataclass
class AdminState:
    node: GatewayNode
    registry: CollectorRegistry
    token: str | None
    request_drain: Callable[[], bool]
    """Start the drain; False when it had already started."""
    extra_status: Callable[[], Mapping[str, Any]] = field(default=lambda: {})
    config_source: Callable[[], str] = field(default=lambda: "file")


ADMIN_STATE = web.AppKey("admin_state", AdminState)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: assume it is reachable from elsewhere


def load_admin_token(token_file: str | None, environ: Mapping[str, str]) -> str | None:
    """The token from ``token_file``, else ``$ZONEGATE_ADMIN_TOKEN``; None when neither is set."""
    if token_file is not None:
        try:
            with open(token_file, encoding="utf-8") as fh:
                token = fh.read().strip()
        except OSError as exc:
            raise AdminConfigError(
                f"cannot read the admin token file {token_file}: {exc.strerror or exc}"
            ) from None
        source = f"admin token file {token_file}"
    else:
        token = environ.get(cv.ENV_ADMIN_TOKEN, "").strip()
        if not token:
            return None
        source = f"${cv.ENV_ADMIN_TOKEN}"
    if len(token) < MIN_TOKEN_LENGTH:
        raise AdminConfigError(f"the {source} holds fewer than {MIN_TOKEN_LENGTH} characters")
    return token


def check_binding(host: str, token: str | None) -> None:
    if token is None and not is_loopback(host):
        raise AdminConfigError(
            f"the admin listener on {host} is reachable from other hosts: give a bearer token "
            f"with --admin-token-file FILE or ${cv.ENV_ADMIN_TOKEN}, or bind it to 127.0.0.1"
        )


def _error(status: int, code: str, message: str, **headers: str) -> web.Response:
    return web.json_response(
        {"error": {"code": code, "message": message}}, status=status, headers=headers
    )


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def require_token(request: web.Request, handler: Handler) -> web.StreamResponse:
    token = request.app[ADMIN_STATE].token
    if token is None or request.path in PUBLIC_PATHS:
        return await handler(request)
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip(), token):
        return _error(
            401,
            cv.ERR_UNAUTHENTICATED,
            "this admin endpoint needs Authorization: Bearer <token>",
            **{"WWW-Authenticate": 'Bearer realm="zonegate-admin"'},
        )
    return await handler(request)


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    node = request.app[ADMIN_STATE].node
    if node.ready:
        return web.json_response({"status": "ready", "revision": node.revision})
    reason = "draining" if node.draining else "starting"
    return web.json_response({"status": reason, "revision": node.revision}, status=503)


async def metrics(request: web.Request) -> web.Response:
    body = generate_latest(request.app[ADMIN_STATE].registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


async def config(request: web.Request) -> web.Response:
    state = request.app[ADMIN_STATE]
    node = state.node
    return web.json_response(
        {
            "revision": node.revision,
            "source": state.config_source(),
            "config": node.config.model_dump(mode="json"),
        }
    )


async def status(request: web.Request) -> web.Response:
    state = request.app[ADMIN_STATE]
    node = state.node
    now = time.monotonic()
    clusters = {}
    for name, cluster in node.snapshot.clusters.items():
        clusters[name] = {
            "breaker": cluster.breaker.state if cluster.breaker is not None else None,
            "active_requests": cluster.active_requests,
            "hosts": [
                {
                    "address": h.address,
                    "zone": h.zone,
                    "healthy": h.health_ok,
                    "ejected": h.ejected(now),
                    "active_requests": h.active_requests,
                }
                for h in cluster.hosts
            ],
        }
    server = node.server
    body: dict[str, Any] = {
        "node": node.node_id,
        "zone": node.zone,
        "address": f"{node.address[0]}:{node.address[1]}" if node.address else None,
        "ready": node.ready,
        "draining": node.draining,
        "revision": node.revision,
        "uptime_s": round(time.time() - node.started_at, 3),
        "active_requests": server.active_requests if server is not None else 0,
        "connections": len(server.connections) if server is not None else 0,
        "clusters": clusters,
    }
    body.update(state.extra_status())
    return web.json_response(body)


async def drain(request: web.Request) -> web.Response:
    started = request.app[ADMIN_STATE].request_drain()
    return web.json_response(
        {"status": "draining", "started": started}, status=202 if started else 200
    )


def admin_app(state: AdminState) -> web.Application:
    app = web.Application(middlewares=[require_token])
    app[ADMIN_STATE] = state
    app.router.add_get(cv.ADMIN_HEALTHZ, healthz)
    app.router.add_get(cv.ADMIN_READYZ, readyz)
    app.router.add_get(cv.ADMIN_METRICS, metrics)
    app.router.add_get(cv.ADMIN_CONFIG, config)
    app.router.add_get(cv.ADMIN_STATUS, status)
    app.router.add_post(cv.ADMIN_DRAIN, drain)
    return app


class AdminServer:
    """Runs :func:`admin_app` on one address."""

    def __init__(self, state: AdminState) -> None:
        self.state = state
        self.runner: web.AppRunner | None = None
        self.address: tuple[str, int] | None = None

    async def start(self, host: str, port: int) -> tuple[str, int]:
        check_binding(host, self.state.token)
        runner = web.AppRunner(admin_app(self.state), access_log=None, handle_signals=False)
        await runner.setup()
        try:
            site = web.TCPSite(runner, host, port)
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self.runner = runner
        sockets = [s for srv in runner.sites for s in _sockets(srv)]
        name = sockets[0].getsockname() if sockets else (host, port)
        self.address = (str(name[0]), int(name[1]))
        return self.address

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None


def _sockets(site: web.BaseSite) -> list[Any]:
    server = getattr(site, "_server", None)
    return list(getattr(server, "sockets", None) or [])
