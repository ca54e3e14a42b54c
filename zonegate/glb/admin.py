"""The GLB's admin listener: /healthz, /readyz, /metrics, /status."""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from zonegate import conventions as cv
from zonegate.glb.proxy import GlbProxy

PROXY_KEY = web.AppKey("proxy", GlbProxy)
STARTED_KEY = web.AppKey("started", float)


def status_document(proxy: GlbProxy) -> dict[str, Any]:
    """Every zone and node with its health, the routing table per region, transitions."""
    m = proxy.membership
    selector = proxy.selector
    zones = {}
    for zone, hosts in m.by_zone.items():
        zones[zone] = {
            "healthy": sum(1 for h in hosts if h.health_ok),
            "total": len(hosts),
            "effective_health": round(selector.effective_health(zone), 3),
            "nodes": [
                {
                    "id": m.entry_of[id(h)].node_id,
                    "address": h.address,
                    "admin": m.entry_of[id(h)].admin,
                    "healthy": h.health_ok,
                    "active_requests": h.active_requests,
                }
                for h in hosts
            ],
        }
    routing = {}
    for region, preference in proxy.preference.items():
        names, shares = selector.shares(preference)
        routing[region] = {
            "preference": preference,
            "shares": {z: round(s, 3) for z, s in zip(names, shares, strict=True)},
            "panic": selector.panic(preference),
        }
    now_mono = time.monotonic()
    now_wall = time.time()
    transitions = [
        {"at": round(now_wall - (now_mono - t.at), 3), "zone": t.zone, "event": t.event}
        for t in selector.transitions
    ]
    return {"zones": zones, "routing": routing, "transitions": transitions}


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "alive"})


async def readyz(request: web.Request) -> web.Response:
    proxy = request.app[PROXY_KEY]
    ready = any(h.health_ok for h in proxy.membership.hosts.values())
    return web.json_response(
        {"ready": ready, "nodes": len(proxy.membership.hosts)}, status=200 if ready else 503
    )


async def metrics(request: web.Request) -> web.Response:
    proxy = request.app[PROXY_KEY]
    for zone, hosts in proxy.membership.by_zone.items():
        ratio = sum(1 for h in hosts if h.health_ok) / len(hosts) if hosts else 0.0
        proxy.metrics.healthy_ratio.labels(zone).set(ratio)
    body = generate_latest(proxy.metrics.registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


async def status(request: web.Request) -> web.Response:
    return web.json_response(status_document(request.app[PROXY_KEY]))


def admin_app(proxy: GlbProxy) -> web.Application:
    app = web.Application()
    app[PROXY_KEY] = proxy
    app[STARTED_KEY] = time.time()
    app.router.add_get(cv.ADMIN_HEALTHZ, healthz)
    app.router.add_get(cv.ADMIN_READYZ, readyz)
    app.router.add_get(cv.ADMIN_METRICS, metrics)
    app.router.add_get(cv.ADMIN_STATUS, status)
    return app
