"""The GLB's request path: region -> zone -> node, with passive detection and retries.

A request that cannot reach a node (connect refused, reset before an answer,
timeout) or meets a draining node takes that node out at once and, when it
is safe to repeat (idempotent method or an ``Idempotency-Key``), is retried
on another node of the zone or the next zone, within the retry budget and
the deadline.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from typing import TYPE_CHECKING

from zonegate import conventions as cv
from zonegate.config.model import ClusterConfig
from zonegate.glb.membership import Membership
from zonegate.glb.metrics import GlbMetrics
from zonegate.glb.region import RegionResolver
from zonegate.glb.sticky import Affinity, AffinityCookie
from zonegate.glb.zone_choice import ZoneSelector
from zonegate.node.body import BodyStream
from zonegate.node.context import RequestContext
from zonegate.node.errors import ConnectFailed, NodeError, UpstreamError
from zonegate.node.exchange import RequestBody, relay_response, send_request
from zonegate.node.filters.request_id import RequestIdFilter
from zonegate.node.headers import request_head
from zonegate.node.http import Request, ResponseHead
from zonegate.node.upstream.connection import UpstreamConnection
from zonegate.node.upstream.host import Host
from zonegate.node.upstream.pool import ConnectionPool

if TYPE_CHECKING:
    from zonegate.node.server import ClientConnection

log = logging.getLogger("zonegate.glb")
_DRAINING = cv.HEADER_DRAINING.encode()


class NoHealthyZone(NodeError):
    status = 503
    code = cv.ERR_NO_HEALTHY_ZONE


class GlbProxy:
    def __init__(
        self,
        config: ClusterConfig,
        membership: Membership,
        selector: ZoneSelector,
        metrics: GlbMetrics,
        *,
        cookie_key: bytes,
        identity: tuple[bytes, ...] = (),
        rng: random.Random | None = None,
    ) -> None:
        glb = config.glb
        self.settings = glb
        self.membership = membership
        self.selector = selector
        self.metrics = metrics
        self.identity = identity
        self.rng = rng or random.Random()
        self.pool = ConnectionPool(max_idle_per_host=256)
        self.regions = RegionResolver(config.regions, glb.region_header, glb.default_region)
        self.preference = {r.name: config.zone_preference(r.name) for r in config.regions}
        self.default_preference = [z.name for z in config.zones]
        self.cookie = (
            AffinityCookie(config.cluster, cookie_key, glb.sticky.cookie, glb.sticky.max_age_s)
            if glb.sticky.enabled
            else None
        )
        self.request_id = RequestIdFilter()
        self.active = 0
        self.active_retries = 0

    def preference_for(self, region: str) -> list[str]:
        return self.preference.get(region, self.default_preference)

    def _choose(
        self, preference: list[str], affinity: Affinity | None, tried: list[Host]
    ) -> tuple[str, Host] | None:
        m = self.membership
        if affinity is not None and affinity.zone in preference:
            if self.settings.sticky.pin_node and affinity.node:
                pinned = m.hosts.get(affinity.node)
                if pinned is not None and pinned.health_ok and pinned not in tried:
                    return affinity.zone, pinned
            host = m.pick(affinity.zone, tried)
            if host is not None and self.selector.effective_health(affinity.zone) > 0:
                return affinity.zone, host
        zone = self.selector.choose(preference, self.rng)
        if zone is not None:
            host = m.pick(zone, tried)
            if host is not None:
                return zone, host
        # The chosen zone has no untried healthy node left: walk the preference, zones
        # that may take traffic first, then zones still in their failback hold-down.
        held_down: list[str] = []
        for zone in preference:
            if self.selector.effective_health(zone) <= 0:
                held_down.append(zone)
                continue
            host = m.pick(zone, tried)
            if host is not None:
                return zone, host
        for zone in held_down:
            host = m.pick(zone, tried)
            if host is not None:
                return zone, host
        if self.settings.panic == "fail_open":
            for zone in preference:
                host = m.pick_any(zone, tried)
                if host is not None:
                    return zone, host
        return None

    async def handle(self, client: ClientConnection, req: Request, body: BodyStream | None) -> None:
        started = time.perf_counter()
        ctx = RequestContext()
        self.request_id.on_request(ctx, req)
        region = self.regions.resolve(req.header(self.regions.header), req.client_ip)
        zone = ""
        status = 0
        self.active += 1
        try:
            zone, status = await self._forward(client, ctx, req, body, region)
        except asyncio.CancelledError:
            status = 499
            raise
        except NodeError as exc:
            status = exc.status
            if client.response_started:
                client.abort()
            else:
                client.local_reply(exc.status, exc.code, exc.message, ctx.request_id)
        except Exception:
            status = 500
            log.exception("glb_request_failed", extra={"request_id": ctx.request_id})
            if client.response_started:
                client.abort()
            else:
                client.local_reply(500, "internal_error", "internal error", ctx.request_id)
        finally:
            self.active -= 1
            self.metrics.observe(region, zone or "none", status, time.perf_counter() - started)

    async def _forward(
        self,
        client: ClientConnection,
        ctx: RequestContext,
        req: Request,
        body_stream: BodyStream | None,
        region: str,
    ) -> tuple[str, int]:
        settings = self.settings
        loop = asyncio.get_running_loop()
        deadline = loop.time() + settings.timeout_s
        preference = self.preference_for(region)
        affinity = self.cookie.from_header(req.header(b"cookie")) if self.cookie else None
        retry_safe = req.idempotent or req.header(b"idempotency-key") is not None
        body = RequestBody(req, body_stream, 64 * 1024)
        head = request_head(req, req.path, ctx.request_id, body_framing=body.framing)
        tried: list[Host] = []
        last_error: NodeError = NoHealthyZone("no zone has a healthy gateway node")
        retries = 0
        try:
            for attempt in range(1, settings.retry_attempts + 1):
                if attempt > 1:
                    if not self._retry_allowed() or not body.replayable:
                        raise last_error
                    self.metrics.retries.inc()
                    self.active_retries += 1
                    retries += 1
                result = await self._try_once(
                    client,
                    ctx,
                    req,
                    body,
                    head,
                    preference,
                    affinity,
                    region,
                    tried,
                    retry_safe=retry_safe,
                    last=attempt == settings.retry_attempts,
                    deadline=deadline,
                )
                if isinstance(result, NodeError):
                    last_error = result
                    continue
                return result
            raise last_error
        finally:
            self.active_retries -= retries

    async def _try_once(
        self,
        client: ClientConnection,
        ctx: RequestContext,
        req: Request,
        body: RequestBody,
        head: bytes,
        preference: list[str],
        affinity: Affinity | None,
        region: str,
        tried: list[Host],
        *,
        retry_safe: bool,
        last: bool,
        deadline: float,
    ) -> tuple[str, int] | NodeError:
        """One attempt: the answer relayed as (zone, status), or the error to retry on."""
        settings = self.settings
        choice = self._choose(preference, affinity, tried)
        if choice is None:
            raise NoHealthyZone("no zone has a healthy gateway node")
        zone, host = choice
        tried.append(host)
        self.metrics.decisions.labels(region, zone).inc()
        conn: UpstreamConnection | None = None
        host.active_requests += 1
        try:
            conn = await send_request(
                client,
                self.pool,
                host,
                head,
                body,
                head_only=req.method == "HEAD",
                try_deadline=deadline,
                deadline=deadline,
                connect_timeout=settings.connect_timeout_s,
            )
        except UpstreamError as exc:
            self._node_failed(host, exc.code)
            # Nothing reached the node when the connect failed: always safe to retry.
            if not (retry_safe or isinstance(exc, ConnectFailed)) or last:
                raise
            return exc
        finally:
            host.active_requests -= 1
        draining = conn.status == 503 and any(
            name == _DRAINING for name, _ in conn.response_headers
        )
        if draining:
            self._node_failed(host, "draining")
        if not draining or not retry_safe or last:
            return zone, await self._relay(client, ctx, req, conn, zone, affinity, host)
        conn.close()
        return NoHealthyZone(f"node in {zone} is draining")

    def _retry_allowed(self) -> bool:
        limit = max(3.0, self.active * self.settings.retry_budget_percent / 100)
        return self.active_retries < limit

    def _node_failed(self, host: Host, reason: str) -> None:
        if host.health_ok:
            self.metrics.marked_down.labels(host.zone).inc()
        self.membership.mark_down(host, reason)

    async def _relay(
        self,
        client: ClientConnection,
        ctx: RequestContext,
        req: Request,
        conn: UpstreamConnection,
        zone: str,
        affinity: Affinity | None,
        host: Host,
    ) -> int:
        resp = ResponseHead(conn.status, conn.response_headers)
        if self.cookie is not None:
            entry = self.membership.entry_of.get(id(host))
            node = entry.node_id if entry is not None and self.settings.sticky.pin_node else ""
            wanted = Affinity(zone, node)
            if affinity != wanted:
                resp.headers.append((b"set-cookie", self.cookie.set_cookie_header(wanted)))
        await relay_response(client, conn, req, resp, ctx.request_id, self.identity, self.pool)
        return resp.status
