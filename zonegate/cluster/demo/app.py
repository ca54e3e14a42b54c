"""One demo backend process: the aiohttp app, its store and its etcd registration."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator
from dataclasses import dataclass

from aiohttp import web
from aiohttp.typedefs import Handler

from zonegate.cluster.demo.fault import FAULT_PATH, HEALTH_PATH, FaultKnob
from zonegate.cluster.demo.services import IDENTITY, STORE, Identity, add_routes
from zonegate.cluster.demo.store import EtcdStore, MemoryStore, Store
from zonegate.errors import ZonegateError

log = logging.getLogger("zonegate.demo")
HEADER_BACKEND_ZONE = "X-Backend-Zone"
HEADER_BACKEND_INSTANCE = "X-Backend-Instance"
FAULT: web.AppKey[FaultKnob] = web.AppKey("fault", FaultKnob)


@dataclass(frozen=True)
class BackendOptions:
    service: str
    zone: str
    instance_id: str
    host: str
    port: int
    etcd: str | None = None
    cluster: str = "zonegate"


@web.middleware
async def identity_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    response = await handler(request)
    identity = request.app[IDENTITY]
    response.headers[HEADER_BACKEND_ZONE] = identity.zone
    response.headers[HEADER_BACKEND_INSTANCE] = identity.instance
    return response


@web.middleware
async def store_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The shared store (etcd) failing is a 503 with a stable code, not a traceback."""
    try:
        return await handler(request)
    except ZonegateError as exc:
        log.warning("demo_store_failed %s", exc.message)
        return web.json_response({"error": "store_unavailable", "message": exc.message}, status=503)


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok", **request.app[IDENTITY].fields()})


def build_app(options: BackendOptions, store: Store | None = None) -> web.Application:
    """The app of one backend; without ``store`` it uses etcd (``options.etcd``) or memory."""
    knob = FaultKnob()
    app = web.Application(middlewares=[identity_headers, knob.middleware, store_errors])
    app[FAULT] = knob
    app[IDENTITY] = Identity(options.service, options.zone, options.instance_id)
    app.router.add_get(HEALTH_PATH, healthz)
    app.router.add_route("*", FAULT_PATH, knob.handle)
    add_routes(app, options.service)
    app.cleanup_ctx.append(_store_ctx(options, store))
    return app


def _store_ctx(options: BackendOptions, given: Store | None):  # type: ignore[no-untyped-def]
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        if given is not None:
            app[STORE] = given
            yield
            return
        if not options.etcd:
            app[STORE] = MemoryStore()
            yield
            return
        store = EtcdStore(options.etcd, options.cluster, options.service)
        store.start()
        app[STORE] = store
        registration = _registration(store, options)
        registration.start()
        try:
            yield
        finally:
            await registration.stop()
            await store.close()

    return ctx


def _registration(store: EtcdStore, options: BackendOptions):  # type: ignore[no-untyped-def]
    from zonegate.coordinator.keys import Keys
    from zonegate.coordinator.records import ServiceEndpoint
    from zonegate.coordinator.registry import ServiceRegistration

    endpoint = ServiceEndpoint(
        service=options.service,
        zone=options.zone,
        instance_id=options.instance_id,
        address=f"{options.host}:{options.port}",
        metadata={"kind": "demo"},
    )
    return ServiceRegistration(store.client, Keys(options.cluster), endpoint)


async def serve(options: BackendOptions) -> int:
    app = build_app(options)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    try:
        site = web.TCPSite(runner, options.host, options.port)
        await site.start()
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        port = sockets[0].getsockname()[1] if sockets else options.port
        print(
            f"demo backend {options.service} ({options.zone}) {options.instance_id} "
            f"listening on {options.host}:{port}",
            flush=True,
        )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
    finally:
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(runner.cleanup(), 5.0)
    return 0


def run(options: BackendOptions) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    return asyncio.run(serve(options))
