"""The service catalog on the dashboard server: an aiohttp sub-application.

Mount it on any aiohttp app (the SLO dashboard mounts it at ``/catalog/``)::

    app.add_subapp("/catalog/", catalog_app(source))
    # or, with its own etcd client (opened and closed with the app):
    app.add_subapp("/catalog/", etcd_catalog_app(endpoints, cluster, slos=specs))

Routes (relative to the mount point): ``/`` the HTML page, ``/api`` the
catalog as JSON, ``/openapi/{team}`` the team's OpenAPI summary. Answers are
cached for ``ttl_s`` seconds so page refreshes do not hammer etcd and the nodes.
"""

from __future__ import annotations

import html
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence

from aiohttp import web

from zonegate.coordinator.client import EtcdClient
from zonegate.coordinator.keys import Keys
from zonegate.node.delivery.catalog import (
    Catalog,
    CatalogRoute,
    CatalogTeam,
    CatalogVersion,
    SLOView,
)
from zonegate.node.delivery.catalog_source import CatalogSource, EtcdCatalogSource
from zonegate.node.delivery.errors import CatalogError
from zonegate.node.delivery.openapi import openapi_summary

_CSS = """
body{font-family:system-ui,sans-serif;margin:1.5rem;color:#1d2330}
h1{font-size:1.4rem}h2{font-size:1.15rem;margin-top:2rem}
table{border-collapse:collapse;width:100%;font-size:.85rem}
th,td{border-bottom:1px solid #dde1e8;padding:.35rem .5rem;text-align:left;vertical-align:top}
th{background:#f3f5f8}.muted{color:#6b7385}.bad{color:#b3261e}.ok{color:#1e7a34}
.warn{background:#fff4e5;border:1px solid #f0c36d;padding:.5rem;margin:.5rem 0}
code{font-size:.8rem}
"""


class CachedCatalog:
    """The last catalog for ``ttl_s`` seconds (errors are not cached)."""

    def __init__(
        self, source: CatalogSource, ttl_s: float = 2.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.source = source
        self.ttl_s = ttl_s
        self.clock = clock
        self._value: Catalog | None = None
        self._at = 0.0

    async def get(self) -> Catalog:
        now = self.clock()
        if self._value is None or now - self._at >= self.ttl_s:
            self._value = await self.source.catalog()
            self._at = now
        return self._value


CATALOG = web.AppKey("catalog", CachedCatalog)


def _e(value: object) -> str:
    return html.escape(str(value))


def _health(version: CatalogVersion) -> str:
    parts = []
    for zone in version.zones:
        name = _e(zone.zone or "(no zone)")
        if zone.healthy is None:
            parts.append(f"<span class='muted'>{name} {zone.total} hosts</span>")
        else:
            cls = "ok" if zone.healthy == zone.total else "bad" if zone.healthy == 0 else "warn"
            parts.append(f"<span class='{cls}'>{name} {zone.healthy}/{zone.total}</span>")
    return " · ".join(parts) or "<span class='muted'>no hosts</span>"


def _versions(route: CatalogRoute) -> str:
    rows = []
    for v in route.versions:
        share = f" {v.share:g}%" if v.share is not None else ""
        label = f" ({_e(v.version)})" if v.version != v.cluster else ""
        rows.append(f"<div><code>{_e(v.cluster)}</code>{label}{share}<br>{_health(v)}</div>")
    if route.sticky:
        rows.append(f"<div class='muted'>sticky by {_e(route.sticky)}</div>")
    return "".join(rows)


def _list(items: list[str]) -> str:
    return "<br>".join(_e(i) for i in items) or "<span class='muted'>-</span>"


def _route_row(route: CatalogRoute) -> str:
    delivery = [*route.canary, *([f"mirror {route.mirror}"] if route.mirror else [])]
    hosts = f"<br><span class='muted'>{_e(', '.join(route.hosts))}</span>" if route.hosts else ""
    auth = _e(route.auth)
    if route.authz:
        auth += f"<br><span class='muted'>{_e(route.authz)}</span>"
    return (
        f"<tr><td><b>{_e(route.name)}</b><br>"
        f"<span class='muted'>{_e(route.description)}</span></td>"
        f"<td><code>{_e(route.paths)}</code>{hosts}</td>"
        f"<td>{_e(' '.join(route.methods) or 'any')}</td>"
        f"<td>{_versions(route)}</td><td>{_list(delivery)}</td><td>{auth}</td>"
        f"<td>{_list(route.rate_limits)}</td><td>{_list(route.slos)}</td></tr>"
    )


def _team(team: CatalogTeam, base: str) -> str:
    owns = ", ".join([*team.path_prefixes, *team.hosts])
    meta = " · ".join(
        x
        for x in (
            _e(team.description),
            f"contact: {_e(team.contact)}" if team.contact else "",
            f"delegated: <code>{_e(owns)}</code>" if owns else "",
            f"<a href='{base}/openapi/{_e(team.name)}'>OpenAPI</a>",
        )
        if x
    )
    head = (
        "<tr><th>route</th><th>paths</th><th>methods</th><th>versions and health</th>"
        "<th>canary / mirror</th><th>auth</th><th>rate limits</th><th>SLOs</th></tr>"
    )
    rows = "".join(_route_row(r) for r in team.routes) or (
        "<tr><td colspan='8' class='muted'>no routes yet</td></tr>"
    )
    return f"<h2>{_e(team.name)}</h2><p>{meta}</p><table>{head}{rows}</table>"


def render_page(catalog: Catalog, base: str = "") -> str:
    """The catalog as one self-contained HTML page."""
    warnings = "".join(
        f"<div class='warn'>fragment of team <b>{_e(team)}</b> is left out: "
        f"{_e('; '.join(problems))}</div>"
        for team, problems in catalog.dropped.items()
    )
    warnings += "".join(
        f"<div class='warn'>health unavailable: {_e(err)}</div>" for err in catalog.health_errors
    )
    health = (
        f"live health from {len(catalog.health_sources)} node(s)"
        if catalog.health_sources
        else "no live health (configured endpoints shown)"
    )
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(catalog.generated_at))
    body = "".join(_team(t, base) for t in catalog.teams)
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>service catalog · {_e(catalog.cluster)}</title><style>{_CSS}</style></head>"
        f"<body><h1>Service catalog of {_e(catalog.cluster)}</h1>"
        f"<p class='muted'>config revision {catalog.revision} · {health} · {when} · "
        f"<a href='{base}/api'>JSON</a></p>{warnings}{body}</body></html>"
    )


async def page(request: web.Request) -> web.Response:
    catalog = await request.app[CATALOG].get()
    base = request.path.rstrip("/")
    return web.Response(text=render_page(catalog, base), content_type="text/html")


async def api(request: web.Request) -> web.Response:
    return web.json_response((await request.app[CATALOG].get()).to_json())


async def openapi(request: web.Request) -> web.Response:
    catalog = await request.app[CATALOG].get()
    name = request.match_info["team"]
    team = catalog.team(name)
    if team is None:
        known = ", ".join(t.name for t in catalog.teams)
        raise CatalogError(f"no team {name!r} in the catalog (teams: {known})", status=404)
    return web.json_response(openapi_summary(catalog, team))


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def catalog_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except CatalogError as exc:
        body = {"error": {"code": exc.code, "message": exc.message}}
        return web.json_response(body, status=exc.status)


def catalog_app(source: CatalogSource, *, ttl_s: float = 2.0) -> web.Application:
    """The catalog as an aiohttp (sub-)application."""
    app = web.Application(middlewares=[catalog_errors])
    app[CATALOG] = CachedCatalog(source, ttl_s)
    app.router.add_get("/", page)
    app.router.add_get("/api", api)
    app.router.add_get("/openapi/{team}", openapi)
    return app


class _LateSource:
    """A source set once the app's etcd client is connected."""

    def __init__(self) -> None:
        self.source: CatalogSource | None = None

    async def catalog(self) -> Catalog:
        if self.source is None:
            raise CatalogError("the catalog is not connected to etcd yet")
        return await self.source.catalog()


def etcd_catalog_app(
    endpoints: str,
    cluster: str,
    *,
    slos: Sequence[SLOView] = (),
    admin_token: str | None = None,
    ttl_s: float = 2.0,
) -> web.Application:
    """:func:`catalog_app` over a cluster in etcd, with its own client (a ``cleanup_ctx``)."""
    late = _LateSource()
    app = catalog_app(late, ttl_s=ttl_s)

    async def connect(app: web.Application) -> AsyncIterator[None]:
        async with EtcdClient(endpoints) as client:
            late.source = EtcdCatalogSource(
                client, Keys(cluster), slos=slos, admin_token=admin_token
            )
            try:
                yield
            finally:
                late.source = None

    app.cleanup_ctx.append(connect)
    return app
