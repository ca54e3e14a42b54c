"""``zonegate slo serve``: the engine as an aiohttp application: scraper, evaluator,
notifications, the JSON API (for the chaos harness and scripts) and the dashboard.

Every resource lives in a ``cleanup_ctx`` generator; background loops are
named tasks kept in a set and cancelled on shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import logging
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any

from aiohttp import web

from zonegate.slo import dashboard
from zonegate.slo.charts import Annotation
from zonegate.slo.discovery import AnnotationSource
from zonegate.slo.engine import SLOEngine
from zonegate.slo.errors import BadQueryError, DataSourceError, SLOError
from zonegate.slo.exposition import wanted_for
from zonegate.slo.notify import Notifier
from zonegate.slo.scraper import Scraper, TargetSource
from zonegate.slo.sources import DataSource, EmbeddedSource, PrometheusSource
from zonegate.slo.spec import Notifications, SLOSpec
from zonegate.slo.status import SLOStatus
from zonegate.slo.store import DEFAULT_PATH, SampleStore

log = logging.getLogger(__name__)
DEFAULT_PORT = 9095
"""where ``zonegate slo serve`` listens unless told otherwise"""


@dataclass
class ServeOptions:
    specs: Sequence[SLOSpec]
    notifications: Notifications = field(default_factory=Notifications)
    db_path: str | Path = DEFAULT_PATH
    prometheus_url: str | None = None
    targets: TargetSource | None = None
    """where to scrape (embedded mode); None: do not scrape (read the store as it is)"""
    annotations: AnnotationSource | None = None
    scrape_interval_s: float = 5.0
    eval_interval_s: float = 10.0
    refresh_s: float = 10.0
    evaluate: bool = True
    clock: Callable[[], float] = time.time


@dataclass
class Runtime:
    engine: SLOEngine
    history: EmbeddedSource
    source: DataSource
    scraper: Scraper | None
    notifier: Notifier
    options: ServeOptions
    tasks: set[asyncio.Task[None]] = field(default_factory=set)

    def spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)


RUNTIME = web.AppKey("slo_runtime", Runtime)
OPTIONS = web.AppKey("slo_options", ServeOptions)


async def runtime_context(app: web.Application) -> AsyncIterator[None]:
    options = app[OPTIONS]
    store = SampleStore(options.db_path)
    history = EmbeddedSource(store)
    source: DataSource = (
        PrometheusSource(options.prometheus_url) if options.prometheus_url else history
    )
    notifier = Notifier(options.notifications, options.clock)
    engine = SLOEngine(
        options.specs,
        source,
        history,
        notifier=notifier,
        clock=options.clock,
        interval_s=options.eval_interval_s,
    )
    scraper = None
    if options.targets is not None and options.prometheus_url is None:
        retention = max((s.window_s for s in options.specs), default=30 * 86400) + 86400
        scraper = Scraper(
            history,
            options.targets,
            wanted_for(options.specs),
            interval_s=options.scrape_interval_s,
            retention_s=retention,
            clock=options.clock,
        )
    runtime = Runtime(engine, history, source, scraper, notifier, options)
    app[RUNTIME] = runtime
    try:
        await engine.restore()
        if scraper is not None:
            await scraper.start()
            runtime.spawn(scraper.run(), "slo-scraper")
        if options.evaluate:
            runtime.spawn(engine.run(), "slo-evaluator")
        yield
    finally:
        for task in list(runtime.tasks):
            task.cancel()
        for task in list(runtime.tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if scraper is not None:
            await scraper.close()
        await notifier.close()
        if source is not history:
            await source.close()
        await history.close()
        store.close()


# --- helpers -------------------------------------------------------------------
def _json_error(exc: SLOError) -> web.Response:
    return web.json_response(
        {"error": {"code": exc.code, "message": exc.message}}, status=exc.status
    )


@web.middleware
async def errors_middleware(
    request: web.Request, handler: Callable[[web.Request], Any]
) -> web.StreamResponse:
    try:
        response: web.StreamResponse = await handler(request)
        return response
    except SLOError as exc:
        if request.path.startswith("/api/"):
            return _json_error(exc)
        text = html.escape(exc.message)
        body = dashboard.page("error", f"<p class='notice'>{text}</p>", 0)
        return web.Response(text=body, status=exc.status, content_type="text/html")


def parse_time(text: str | None, name: str, default: float | None = None) -> float:
    """Unix seconds or ISO 8601 (``2024-05-01T12:00:00Z``)."""
    if text is None or text == "":
        if default is None:
            raise BadQueryError(f"query parameter {name} is required (unix seconds or ISO 8601)")
        return default
    try:
        return float(text)
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        raise BadQueryError(
            f"{name}={text!r} is not a time: use unix seconds or ISO 8601"
        ) from None


def _int(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadQueryError(f"{name}={raw!r} is not an integer") from None
    if not low <= value <= high:
        raise BadQueryError(f"{name} must be between {low} and {high}")
    return value


async def _statuses(runtime: Runtime) -> list[SLOStatus]:
    statuses = await runtime.engine.fresh_statuses()
    return [statuses[n] for n in runtime.engine.specs if n in statuses]


async def _status(runtime: Runtime, name: str) -> SLOStatus:
    runtime.engine.spec(name)  # 404 for unknown names
    statuses = await runtime.engine.fresh_statuses()
    if name not in statuses:
        raise DataSourceError(f"SLO {name} could not be evaluated: {runtime.engine.last_error}")
    return statuses[name]


async def _annotations(runtime: Runtime, start: float, end: float) -> list[Annotation]:
    if runtime.options.annotations is None:
        return []
    return await runtime.options.annotations(start, end)


# --- JSON API ------------------------------------------------------------------
async def api_slos(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    statuses = await _statuses(runtime)
    return web.json_response(
        {
            "slos": [s.to_json() for s in statuses],
            "evaluations": runtime.engine.evaluations,
            "error": runtime.engine.last_error,
        }
    )


async def api_slo(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    name = request.match_info["name"]
    spec = runtime.engine.spec(name)
    body = (await _status(runtime, name)).to_json()
    body["zones"] = await runtime.engine.zone_breakdown(name)
    body["spec"] = spec.model_dump(mode="json", by_alias=True)
    return web.json_response(body)


async def api_burn_rate(request: web.Request) -> web.Response:
    report = await request.app[RUNTIME].engine.burn_rate_now(
        request.match_info["name"], request.query.get("window", "5m")
    )
    return web.json_response(report.to_json())


async def api_budget(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    start = parse_time(request.query.get("start"), "start")
    end = parse_time(request.query.get("end"), "end", runtime.options.clock())
    report = await runtime.engine.budget_consumed(request.match_info["name"], start, end)
    return web.json_response(report.to_json())


async def api_burn_down(request: web.Request) -> web.Response:
    points = _int(request, "points", 60, 2, 1000)
    series = await request.app[RUNTIME].engine.burn_down(request.match_info["name"], points)
    return web.json_response({"points": [{"t": t, "remaining": v} for t, v in series]})


async def api_alerts(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    since = parse_time(request.query.get("since"), "since", 0.0)
    limit = _int(request, "limit", 500, 1, 10000)
    events = await runtime.engine.alert_history(request.query.get("slo"), since, limit)
    return web.json_response(
        {
            "alerts": [
                {
                    "slo": t.slo,
                    "severity": t.severity,
                    "previous": str(t.previous),
                    "state": str(t.state),
                    "at": t.at,
                    "started_at": t.started_at,
                    "burn_rate": t.burn_rate,
                    "windows": list(t.windows),
                }
                for t in events
            ]
        }
    )


async def api_evaluate(request: web.Request) -> web.Response:
    statuses = await request.app[RUNTIME].engine.evaluate_once()
    return web.json_response({"slos": [s.to_json() for s in statuses]})


async def api_targets(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    rows = await runtime.history.run(runtime.history.store.target_health)
    return web.json_response(
        {
            "targets": [
                {"target": t, "last_ok": ok, "last_error": err, "last_error_at": at}
                for t, ok, err, at in rows
            ],
            "scraping": runtime.scraper is not None,
            "notifications": {
                "delivered": runtime.notifier.delivered,
                "failed": runtime.notifier.failed,
                "last_error": runtime.notifier.last_error,
            },
        }
    )


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


# --- dashboard -------------------------------------------------------------------
async def page_overview(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    statuses = await _statuses(runtime)
    note = _note(runtime)
    body = dashboard.overview(statuses, runtime.engine.specs)
    text = dashboard.page("overview", body, runtime.options.refresh_s, note)
    return web.Response(text=text, content_type="text/html")


async def page_slo(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    engine = runtime.engine
    name = request.match_info["name"]
    spec = engine.spec(name)
    status = await _status(runtime, name)
    now = status.at
    burn_down, burn_history, zones, history, notes = await asyncio.gather(
        engine.burn_down(name),
        engine.burn_history(name),
        engine.zone_breakdown(name),
        engine.alert_history(name, since=now - spec.window_s),
        _annotations(runtime, now - spec.window_s, now),
    )
    data = dashboard.DetailData(status, spec, burn_down, burn_history, zones, history, notes)
    text = dashboard.page(name, dashboard.detail(data), runtime.options.refresh_s, _note(runtime))
    return web.Response(text=text, content_type="text/html")


def _note(runtime: Runtime) -> str:
    mode = (
        f"Prometheus {runtime.options.prometheus_url}"
        if runtime.options.prometheus_url
        else "embedded store"
    )
    error = f" · data error: {runtime.engine.last_error}" if runtime.engine.last_error else ""
    return f"data: {mode} · refresh every {runtime.options.refresh_s:g}s{error}"


STATIC = {"dashboard.css": "text/css", "dashboard.js": "application/javascript"}


async def static_file(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    if name not in STATIC:
        raise web.HTTPNotFound()
    body = resources.files("zonegate.slo").joinpath(name).read_bytes()
    return web.Response(
        body=body, content_type=STATIC[name], headers={"Cache-Control": "max-age=300"}
    )


def build_app(options: ServeOptions) -> web.Application:
    app = web.Application(middlewares=[errors_middleware])
    app[OPTIONS] = options
    app.cleanup_ctx.append(runtime_context)
    app.router.add_get("/", page_overview)
    app.router.add_get("/slo/{name}", page_slo)
    app.router.add_get("/static/{name}", static_file)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/api/v1/slos", api_slos)
    app.router.add_get("/api/v1/slos/{name}", api_slo)
    app.router.add_get("/api/v1/slos/{name}/burn-rate", api_burn_rate)
    app.router.add_get("/api/v1/slos/{name}/budget", api_budget)
    app.router.add_get("/api/v1/slos/{name}/burn-down", api_burn_down)
    app.router.add_get("/api/v1/alerts", api_alerts)
    app.router.add_get("/api/v1/targets", api_targets)
    app.router.add_post("/api/v1/evaluate", api_evaluate)
    return app
