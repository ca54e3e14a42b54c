"""The supervisor's control API (loopback HTTP, bearer token from the state file).

``GET /state``; ``POST /ctl`` ``{"verb", "target"}``; ``POST /etcd`` ``{"verb",
"member"}``; ``POST /down`` streams the shutdown's events as JSON lines.
"""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import Callable
from dataclasses import asdict

from aiohttp import web
from aiohttp.typedefs import Handler

from zonegate.cluster import events as ev
from zonegate.cluster.errors import ClusterError
from zonegate.cluster.ops import run_etcd_op, run_op
from zonegate.cluster.supervisor import Supervisor

SUPERVISOR: web.AppKey[Supervisor] = web.AppKey("supervisor", Supervisor)
REQUEST_STOP: web.AppKey[Callable[[], None]] = web.AppKey("request_stop")
LISTENERS: web.AppKey[list[asyncio.Queue[ev.Event]]] = web.AppKey("listeners")


def broadcast(app: web.Application, event: ev.Event) -> None:
    for queue in app[LISTENERS]:
        queue.put_nowait(event)


@web.middleware
async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    sup = request.app[SUPERVISOR]
    given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    if not hmac.compare_digest(given.encode(), sup.token.encode()):
        return web.json_response(
            {"error": "unauthorized", "message": "missing or wrong control token"}, status=401
        )
    try:
        return await handler(request)
    except ClusterError as exc:
        return web.json_response({"error": exc.code, "message": exc.message}, status=exc.status)


async def _body(request: web.Request) -> dict[str, str]:
    try:
        data = await request.json()
    except ValueError:
        raise ClusterError("the body is not JSON", status=400, code="bad_request") from None
    if not isinstance(data, dict) or not isinstance(data.get("verb"), str):
        raise ClusterError("expected {'verb': ..., ...}", status=400, code="bad_request")
    return {k: str(v) for k, v in data.items() if v is not None}


async def get_state(request: web.Request) -> web.Response:
    return web.json_response(asdict(request.app[SUPERVISOR].snapshot()))


async def post_ctl(request: web.Request) -> web.Response:
    body = await _body(request)
    result = await run_op(request.app[SUPERVISOR], body["verb"], body.get("target", ""))
    return web.json_response(result)


async def post_etcd(request: web.Request) -> web.Response:
    body = await _body(request)
    result = await run_etcd_op(request.app[SUPERVISOR], body["verb"], body.get("member"))
    return web.json_response(result)


async def post_down(request: web.Request) -> web.StreamResponse:
    queue: asyncio.Queue[ev.Event] = asyncio.Queue()
    request.app[LISTENERS].append(queue)
    response = web.StreamResponse(headers={"Content-Type": "application/x-ndjson"})
    await response.prepare(request)
    request.app[REQUEST_STOP]()
    try:
        while True:
            event = await queue.get()
            await response.write(event.to_line())
            if event.type == ev.STOPPED:
                break
    finally:
        request.app[LISTENERS].remove(queue)
    await response.write_eof()
    return response


def control_app(sup: Supervisor, request_stop: Callable[[], None]) -> web.Application:
    app = web.Application(middlewares=[guard])
    app[SUPERVISOR] = sup
    app[REQUEST_STOP] = request_stop
    app[LISTENERS] = []
    app.router.add_get("/state", get_state)
    app.router.add_post("/ctl", post_ctl)
    app.router.add_post("/etcd", post_etcd)
    app.router.add_post("/down", post_down)
    return app


async def start_control(app: web.Application, host: str) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, host, 0)
    await site.start()
    sockets = getattr(site._server, "sockets", None) or []
    port = sockets[0].getsockname()[1]
    return runner, f"http://{host}:{port}"
