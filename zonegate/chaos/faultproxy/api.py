"""The Toxiproxy 2.x HTTP API over a :class:`ProxyRegistry`.

Routes, methods and status codes are Toxiproxy's: ``201`` for a created proxy
and for ``/populate``, ``200`` for a created toxic, ``204`` for deletes and
``/reset``, errors as ``{"error": ..., "status": ...}``. Updates accept POST
(what clients send) and PATCH (what Toxiproxy 3 will want). Requests from
browsers (``User-Agent: Mozilla/...``) are refused with 403, as Toxiproxy
does, so a web page cannot drive the proxy behind the user's back.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Final

from aiohttp import web

from zonegate import __version__
from zonegate.chaos.faultproxy.errors import FaultProxyError, bad_body
from zonegate.chaos.faultproxy.models import (
    parse_populate,
    parse_proxy,
    parse_proxy_update,
    parse_toxic_update,
)
from zonegate.chaos.faultproxy.registry import ProxyRegistry

log = logging.getLogger(__name__)

REGISTRY_KEY: Final = web.AppKey("faultproxy_registry", ProxyRegistry)
TOXIPROXY_API_VERSION: Final = "2.12.0"
VERSION: Final = f"{TOXIPROXY_API_VERSION}+zonegate.{__version__}"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def error_response(status: int, message: str) -> web.Response:
    return web.json_response({"error": message, "status": status}, status=status)


@web.middleware
async def toxiproxy_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every failure as a Toxiproxy error body; browsers refused; bad input never kills us."""
    if request.headers.get("User-Agent", "").startswith("Mozilla/"):
        return web.Response(status=403, text="User agent not allowed\n")
    try:
        return await handler(request)
    except FaultProxyError as exc:
        return error_response(exc.status, exc.message)
    except web.HTTPException as exc:
        if exc.status >= 400:
            return error_response(exc.status, exc.reason.lower())
        raise
    except Exception as exc:
        log.exception("faultproxy_api_error", extra={"path": request.path})
        return error_response(500, f"internal error: {exc}")


async def read_json(request: web.Request) -> Any:
    """The body as JSON; too large is 413 (``client_max_size``), anything else bad is 400."""
    raw = await request.read()
    if not raw.strip():
        raise bad_body("EOF (the body is empty; expected JSON)")
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise bad_body(f"invalid JSON: {exc}") from None


def registry_of(request: web.Request) -> ProxyRegistry:
    return request.app[REGISTRY_KEY]


async def proxy_index(request: web.Request) -> web.Response:
    return web.json_response(registry_of(request).to_json())


async def proxy_create(request: web.Request) -> web.Response:
    spec = parse_proxy(await read_json(request))
    proxy = await registry_of(request).create_proxy(spec)
    return web.json_response(proxy.to_json(), status=201)


async def populate(request: web.Request) -> web.Response:
    specs = parse_populate(await read_json(request))
    proxies = await registry_of(request).populate(specs)
    return web.json_response({"proxies": [p.to_json() for p in proxies]}, status=201)


async def proxy_show(request: web.Request) -> web.Response:
    return web.json_response(registry_of(request).get(request.match_info["proxy"]).to_json())


async def proxy_update(request: web.Request) -> web.Response:
    registry = registry_of(request)
    current = registry.get(request.match_info["proxy"])
    spec = parse_proxy_update(current.spec, await read_json(request))
    proxy = await registry.update_proxy(spec)
    return web.json_response(proxy.to_json())


async def proxy_delete(request: web.Request) -> web.Response:
    await registry_of(request).delete_proxy(request.match_info["proxy"])
    return web.Response(status=204)


async def toxic_index(request: web.Request) -> web.Response:
    proxy = registry_of(request).get(request.match_info["proxy"])
    return web.json_response(proxy.toxics.to_json())


async def toxic_create(request: web.Request) -> web.Response:
    registry = registry_of(request)
    registry.get(request.match_info["proxy"])  # 404 before reading the body
    toxic = registry.add_toxic_json(request.match_info["proxy"], await read_json(request))
    return web.json_response(toxic.to_json())


async def toxic_show(request: web.Request) -> web.Response:
    toxic = registry_of(request).get_toxic(request.match_info["proxy"], request.match_info["toxic"])
    return web.json_response(toxic.to_json())


async def toxic_update(request: web.Request) -> web.Response:
    registry = registry_of(request)
    proxy_name, toxic_name = request.match_info["proxy"], request.match_info["toxic"]
    current = registry.get_toxic(proxy_name, toxic_name)
    toxic = registry.update_toxic(proxy_name, parse_toxic_update(current, await read_json(request)))
    return web.json_response(toxic.to_json())


async def toxic_delete(request: web.Request) -> web.Response:
    registry_of(request).remove_toxic(request.match_info["proxy"], request.match_info["toxic"])
    return web.Response(status=204)


async def reset(request: web.Request) -> web.Response:
    await registry_of(request).reset()
    return web.Response(status=204)


async def version(request: web.Request) -> web.Response:
    return web.json_response({"version": VERSION})


def add_routes(app: web.Application) -> None:
    app.router.add_post("/reset", reset)
    app.router.add_get("/proxies", proxy_index)
    app.router.add_post("/proxies", proxy_create)
    app.router.add_post("/populate", populate)
    app.router.add_get("/proxies/{proxy}", proxy_show)
    app.router.add_post("/proxies/{proxy}", proxy_update)
    app.router.add_patch("/proxies/{proxy}", proxy_update)
    app.router.add_delete("/proxies/{proxy}", proxy_delete)
    app.router.add_get("/proxies/{proxy}/toxics", toxic_index)
    app.router.add_post("/proxies/{proxy}/toxics", toxic_create)
    app.router.add_get("/proxies/{proxy}/toxics/{toxic}", toxic_show)
    app.router.add_post("/proxies/{proxy}/toxics/{toxic}", toxic_update)
    app.router.add_patch("/proxies/{proxy}/toxics/{toxic}", toxic_update)
    app.router.add_delete("/proxies/{proxy}/toxics/{toxic}", toxic_delete)
    app.router.add_get("/version", version)
