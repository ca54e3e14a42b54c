"""The request path: filters, route, upstream attempts with retries, response streaming."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

from zonegate import conventions as cv
from zonegate.node.attempt_hooks import AttemptHooks
from zonegate.node.body import BodyStream
from zonegate.node.context import RequestContext
from zonegate.node.delivery.error_pages import render_error
from zonegate.node.delivery.mirror import ShadowSender
from zonegate.node.errors import (
    CircuitOpen,
    ConnectFailed,
    NodeError,
    NoHealthyHost,
    Overflow,
    UpstreamError,
    UpstreamTimeout,
)
from zonegate.node.exchange import RequestBody, relay_response, send_request
from zonegate.node.fastpath import try_fast
from zonegate.node.filters.base import LocalReply
from zonegate.node.headers import request_head
from zonegate.node.http import Request, ResponseHead
from zonegate.node.observer import RequestObserver
from zonegate.node.retry_policy import (
    error_is_retriable,
    retry_budget_allows,
    status_is_retriable,
)
from zonegate.node.router import CompiledRoute
from zonegate.node.upstream.backoff import backoff_delay
from zonegate.node.upstream.cluster import UpstreamCluster
from zonegate.node.upstream.connection import UpstreamConnection
from zonegate.node.upstream.host import Host

if TYPE_CHECKING:
    from zonegate.node.server import ClientConnection, Exchange
    from zonegate.node.snapshot import Snapshot

log = logging.getLogger("zonegate.node.proxy")


class Proxy:
    """Handles every request of a node against the current snapshot."""

    def __init__(
        self,
        snapshot: Snapshot,
        observer: RequestObserver,
        *,
        identity_headers: tuple[bytes, ...] = (),
        rng: random.Random | None = None,
    ) -> None:
        self.snapshot = snapshot
        self.observer = observer
        self.identity = identity_headers
        self.rng = rng or random.Random()
        #: Per-attempt hooks (tracing, upstream metrics); None keeps the path bare.
        self.attempt_hooks: AttemptHooks | None = None
        #: Shadow copies of mirrored routes (fire-and-forget).
        self.shadow = ShadowSender()

    async def handle(self, client: ClientConnection, req: Request, body: BodyStream | None) -> None:
        snapshot = self.snapshot  # in-flight requests finish on the snapshot they started with
        ctx = RequestContext()
        self.observer.request_started(ctx, req)
        await self._guarded(client, ctx, req, self._dispatch(client, ctx, req, body, snapshot))

    async def _dispatch(
        self,
        client: ClientConnection,
        ctx: RequestContext,
        req: Request,
        body: BodyStream | None,
        snapshot: Snapshot,
    ) -> None:
        reply = await snapshot.entry_chain.on_request(ctx, req)
        route = None
        if reply is None:
            route = snapshot.router.match(req)
            if route is None:
                reply = LocalReply(404, cv.ERR_NO_ROUTE, f"no route for {req.method} {req.path}")
            else:
                ctx.route = route.name
                ctx.cluster = route.config.upstream or ""
                chain = snapshot.chains[route.name]
                if chain.hooks:
                    reply = await chain.on_request(ctx, req)
        if reply is not None:
            self.local(client, ctx, reply, req)
        else:
            assert route is not None
            delivery = snapshot.delivery.get(route.name) if snapshot.delivery else None
            if delivery is not None:
                chosen = client.preselected_cluster
                client.preselected_cluster = ""
                if not chosen or chosen not in snapshot.clusters:
                    chosen = delivery.choose(req, ctx)
                ctx.cluster = chosen
            await self._proxy(client, ctx, req, body, route, snapshot)

    async def _guarded(
        self,
        client: ClientConnection,
        ctx: RequestContext,
        req: Request,
        handling: Coroutine[Any, Any, None],
    ) -> None:
        """Run ``handling``; turn its errors into the one error format; observe the end."""
        try:
            await handling
        except asyncio.CancelledError:
            ctx.error_code = ctx.error_code or "client_disconnected"
            ctx.status = ctx.status or 499
            raise
        except NodeError as exc:
            if client.response_started:
                client.abort()
                ctx.error_code = exc.code
            else:
                self.local(client, ctx, LocalReply(exc.status, exc.code, exc.message), req)
        except Exception:
            log.exception("request_failed", extra={"request_id": ctx.request_id})
            if client.response_started:
                client.abort()
            else:
                self.local(client, ctx, LocalReply(500, "internal_error", "internal error"), req)
        finally:
            self.observer.request_finished(ctx, req)

    def try_fast(self, client: ClientConnection, exchange: Exchange) -> bool:
        """The callback fast path (see :mod:`zonegate.node.fastpath`)."""
        return try_fast(self, client, exchange)

    def local(
        self,
        client: ClientConnection,
        ctx: RequestContext,
        reply: LocalReply,
        req: Request | None = None,
    ) -> None:
        """Answer at the gateway; error bodies go through the route's custom pages."""
        ctx.status = reply.status
        ctx.error_code = reply.code if reply.status >= 400 else ctx.error_code
        headers = reply.headers
        chain = self.snapshot.chains.get(ctx.route) if ctx.route else None
        if chain is not None and chain.response_hooks:
            head = ResponseHead(reply.status, list(headers))
            chain.on_local_reply(ctx, head)
            headers = head.headers
        body, content_type = reply.body, reply.content_type
        if body is None and reply.status >= 400:
            pages = self.snapshot.pages_for(ctx.route)
            if pages is not None:
                retry_after = next(
                    (v.decode("latin-1") for k, v in reply.headers if k == b"retry-after"), ""
                )
                body, content_type = render_error(
                    pages,
                    reply.status,
                    reply.code,
                    reply.message,
                    ctx.request_id,
                    accept=req.header(b"accept") if req is not None else None,
                    route=ctx.route,
                    retry_after=retry_after,
                )
        ctx.bytes_sent = client.local_reply(
            reply.status,
            reply.code,
            reply.message,
            ctx.request_id,
            headers=headers,
            body=body,
            content_type=content_type,
            keep_alive=reply.status < 500 or reply.status == 503,
        )

    def replaced_upstream_error(self, snapshot: Snapshot, route: str, status: int) -> bool:
        """The route answers upstream errors with ``status`` with its own error body."""
        if status < 400 or not snapshot.error_pages:
            return False
        pages = snapshot.pages_for(route)
        return pages is not None and pages.replaces(status)

    def upstream_error_reply(self, status: int, headers: list[tuple[bytes, bytes]]) -> LocalReply:
        kept = [(k, v) for k, v in headers if k == b"retry-after"]
        return LocalReply(
            status, cv.ERR_UPSTREAM_ERROR, f"upstream answered {status}", headers=kept
        )

    async def _proxy(
        self,
        client: ClientConnection,
        ctx: RequestContext,
        req: Request,
        body_stream: BodyStream | None,
        route: CompiledRoute,
        snapshot: Snapshot,
        prior: tuple[Host, UpstreamError | int] | None = None,
    ) -> None:
        rc = route.config
        policy = rc.retry
        cluster = snapshot.clusters[ctx.cluster or rc.upstream or ""]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + rc.timeout_s
        body = RequestBody(req, body_stream, rc.buffer_bytes)
        hooks = self.attempt_hooks
        upstream_path = route.upstream_path(req.path)
        extra = hooks.upstream_headers(ctx, req) if hooks is not None else None
        head = request_head(
            req, upstream_path, ctx.request_id, body_framing=body.framing, extra=extra or []
        )
        head_only = req.method == "HEAD"
        if prior is None and snapshot.delivery:
            delivery = snapshot.delivery.get(route.name)
            if delivery is not None and delivery.mirror is not None:
                self.shadow.mirror(
                    delivery.mirror,
                    snapshot.clusters.get(delivery.mirror.cluster),
                    head,
                    body.data if body.in_memory else None,
                    head_only=head_only,
                )
        retry_allowed = req.idempotent or policy.allow_non_idempotent
        key = cluster.hash_key(req)
        tried: list[Host] = []
        last_error: NodeError = NoHealthyHost("no healthy upstream host")
        attempt = 0
        limits = cluster.limits
        if not limits.try_acquire_request():
            raise Overflow(f"cluster {cluster.name} is at its request limit")
        cluster.active_requests += 1
        try:
            while True:
                attempt += 1
                ctx.attempts = attempt
                conn: UpstreamConnection | None = None
                if prior is not None:
                    # Attempt 1 was made on the fast path; go on from its outcome.
                    tried.append(prior[0])
                    outcome = prior[1]
                    prior = None
                    if isinstance(outcome, int):
                        last_error = UpstreamError(f"upstream answered {outcome}")
                        last_error.status, last_error.code = outcome, "upstream_error"
                        can_retry = True
                    else:
                        last_error = outcome
                        can_retry = (
                            retry_allowed or isinstance(outcome, ConnectFailed)
                        ) and error_is_retriable(policy, outcome)
                else:
                    if not cluster.allow_request():
                        raise CircuitOpen(f"circuit breaker of cluster {cluster.name} is open")
                    picked = client.preselected_host if attempt == 1 else None
                    client.preselected_host = None
                    if picked is None or picked not in cluster.hosts:
                        picked = cluster.pick(key, tried)
                    if picked is None:
                        raise (
                            last_error
                            if attempt > 1
                            else NoHealthyHost(f"no healthy host in cluster {cluster.name}")
                        )
                    host = picked
                    tried.append(host)
                    ctx.upstream_host = host.address
                    ctx.upstream_zone = host.zone
                    error: UpstreamError | None = None
                    per_try = deadline
                    if policy.per_try_timeout_s is not None:
                        per_try = min(deadline, loop.time() + policy.per_try_timeout_s)
                    attempt_head = head
                    if hooks is not None:
                        attempt_extra = hooks.attempt_started(ctx, host)
                        if attempt_extra is not None:
                            attempt_head = request_head(
                                req,
                                upstream_path,
                                ctx.request_id,
                                body_framing=body.framing,
                                extra=attempt_extra,
                            )
                    started = time.perf_counter()
                    host.active_requests += 1
                    try:
                        conn = await send_request(
                            client,
                            cluster.pool,
                            host,
                            attempt_head,
                            body,
                            head_only=head_only,
                            try_deadline=per_try,
                            deadline=deadline,
                            connect_timeout=cluster.cfg.connect_timeout_s,
                        )
                    except UpstreamError as exc:
                        error = exc
                    finally:
                        host.active_requests -= 1
                    ctx.upstream_duration = time.perf_counter() - started
                    if hooks is not None:
                        hooks.attempt_finished(ctx, host, conn.status if conn else 0, error)
                    if error is not None:
                        cluster.record(host, local_failure=True)
                        self.observer.attempt_failed(ctx, error)
                        last_error = error
                        can_retry = (
                            retry_allowed or isinstance(error, ConnectFailed)
                        ) and error_is_retriable(policy, error)
                    else:
                        assert conn is not None
                        cluster.record(host, status=conn.status)
                        can_retry = retry_allowed and status_is_retriable(policy, conn.status)
                will_retry = (
                    can_retry
                    and attempt < policy.max_attempts
                    and body.replayable
                    and retry_budget_allows(cluster, policy)
                )
                if not will_retry:
                    if conn is not None:
                        await self._respond(
                            client, ctx, req, conn, cluster, snapshot, route, deadline
                        )
                        return
                    raise last_error
                if conn is not None:
                    conn.close()
                delay = backoff_delay(
                    attempt, policy.backoff.base_s, policy.backoff.max_s, self.rng
                )
                if loop.time() + delay >= deadline:
                    raise UpstreamTimeout(f"route timeout of {rc.timeout_s}s exceeded")
                self.observer.retried(ctx)
                cluster.active_retries += 1
                try:
                    await asyncio.sleep(delay)
                finally:
                    cluster.active_retries -= 1
        finally:
            cluster.active_requests -= 1
            limits.release_request()

    async def continue_after(
        self,
        client: ClientConnection,
        ctx: RequestContext,
        req: Request,
        route: CompiledRoute,
        snapshot: Snapshot,
        prior: tuple[Host, UpstreamError | int],
    ) -> None:
        """Finish a request whose first attempt ran on the fast path (retries, errors)."""
        await self._guarded(
            client, ctx, req, self._proxy(client, ctx, req, None, route, snapshot, prior)
        )

    async def _respond(
        self,
        client: ClientConnection,
        ctx: RequestContext,
        req: Request,
        conn: UpstreamConnection,
        cluster: UpstreamCluster,
        snapshot: Snapshot,
        route: CompiledRoute,
        deadline: float,
    ) -> None:
        """Stream the upstream response to the client."""
        if self.replaced_upstream_error(snapshot, route.name, conn.status):
            conn.close()  # the upstream's body is not wanted
            reply = self.upstream_error_reply(conn.status, conn.response_headers)
            self.local(client, ctx, reply, req)
            return
        resp = ResponseHead(conn.status, conn.response_headers)
        chain = snapshot.chains[route.name]
        if chain.response_filters:
            await chain.on_response(ctx, resp)
        if snapshot.entry_chain.response_filters:
            await snapshot.entry_chain.on_response(ctx, resp)
        ctx.status = resp.status
        try:
            await relay_response(
                client, conn, req, resp, ctx.request_id, self.identity, cluster.pool
            )
        finally:
            ctx.bytes_sent = conn.bytes_received
