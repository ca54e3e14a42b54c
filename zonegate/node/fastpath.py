"""The proxy's callback fast path: a whole exchange without a task or a future.

Most requests carry no body, match a route whose filters are all plain
functions, and find an idle pooled connection to the host the balancer
picks. For those, everything runs inside protocol callbacks: the request is
written in ``on_headers_complete`` of the client parser, the response head
is handled in ``on_headers_complete`` of the upstream parser, and the body
streams from ``on_body`` straight to the client. This saves the task, the
future wake-ups and several coroutine frames per request.

Anything unusual hands the request over to the coroutine path
(:meth:`Proxy.continue_after`) with what was learned so far: a failed first
attempt or a status the retry policy wants to retry.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from zonegate import conventions as cv
from zonegate.node.context import RequestContext
from zonegate.node.errors import UpstreamError
from zonegate.node.exchange import start_relay
from zonegate.node.filters.base import LocalReply
from zonegate.node.headers import request_head
from zonegate.node.http import ResponseHead
from zonegate.node.retry_policy import retry_budget_allows, status_is_retriable
from zonegate.node.router import CompiledRoute
from zonegate.node.upstream.cluster import UpstreamCluster
from zonegate.node.upstream.connection import UpstreamConnection
from zonegate.node.upstream.host import Host

if TYPE_CHECKING:
    from zonegate.node.proxy import Proxy
    from zonegate.node.server import ClientConnection, Exchange
    from zonegate.node.snapshot import Snapshot


class FastExchange:
    """One request on the fast path; the upstream connection calls it back."""

    __slots__ = (
        "client",
        "cluster",
        "conn",
        "ctx",
        "deadline",
        "exchange",
        "host",
        "proxy",
        "relaying",
        "req",
        "route",
        "snapshot",
        "started",
        "try_deadline",
    )

    def __init__(
        self,
        proxy: Proxy,
        client: ClientConnection,
        exchange: Exchange,
        ctx: RequestContext,
        route: CompiledRoute,
        cluster: UpstreamCluster,
        snapshot: Snapshot,
        host: Host,
        conn: UpstreamConnection,
    ) -> None:
        self.proxy = proxy
        self.client = client
        self.exchange = exchange
        self.req = exchange.request
        self.ctx = ctx
        self.route = route
        self.cluster = cluster
        self.snapshot = snapshot
        self.host = host
        self.conn = conn
        self.started = 0.0
        self.deadline = 0.0
        self.try_deadline = 0.0
        self.relaying = False

    def send(self, head: bytes, now: float) -> None:
        rc = self.route.config
        self.deadline = now + rc.timeout_s
        per_try = rc.retry.per_try_timeout_s
        self.try_deadline = min(self.deadline, now + per_try) if per_try else self.deadline
        host = self.host
        host.active_requests += 1
        self.ctx.attempts = 1
        self.ctx.upstream_host = host.address
        self.ctx.upstream_zone = host.zone
        self.started = time.perf_counter()
        conn = self.conn
        conn.arm_timeout(self.try_deadline)
        conn.send_to(head, head_only=self.req.method == "HEAD", listener=self)

    # --- upstream callbacks -----------------------------------------------------
    def upstream_head(self, conn: UpstreamConnection) -> None:
        ctx = self.ctx
        proxy = self.proxy
        status = conn.status
        ctx.upstream_duration = time.perf_counter() - self.started
        hooks = proxy.attempt_hooks
        if hooks is not None:
            hooks.attempt_finished(ctx, self.host, status, None)
        self.cluster.record(self.host, status=status)
        policy = self.route.config.retry
        if (
            policy.max_attempts > 1
            and (self.req.idempotent or policy.allow_non_idempotent)
            and status_is_retriable(policy, status)
            and retry_budget_allows(self.cluster, policy)
        ):
            conn.detach()
            conn.close()
            self._hand_over((self.host, status))
            return
        if status >= 400 and proxy.replaced_upstream_error(self.snapshot, self.route.name, status):
            conn.detach()
            conn.close()  # the upstream's body is not wanted
            reply = proxy.upstream_error_reply(status, conn.response_headers)
            proxy.local(self.client, ctx, reply, self.req)
            self._finish()
            return
        if self.try_deadline < self.deadline:
            conn.arm_timeout(self.deadline)
        resp = ResponseHead(status, conn.response_headers)
        chain = self.snapshot.chains[self.route.name]
        if chain.response_hooks:
            chain.on_response_sync(ctx, resp)
        entry = self.snapshot.entry_chain
        if entry.response_hooks:
            entry.on_response_sync(ctx, resp)
        ctx.status = resp.status
        self.relaying = True
        start_relay(self.client, conn, self.req, resp, ctx.request_id, proxy.identity)

    def upstream_done(self, conn: UpstreamConnection) -> None:
        conn.disarm_timeout()
        conn.finish_forward()
        self.ctx.bytes_sent = conn.bytes_received
        self.cluster.pool.release(conn)
        self._finish()

    def upstream_failed(self, conn: UpstreamConnection, exc: Exception) -> None:
        conn.abort()
        ctx = self.ctx
        if self.relaying:
            # The failure came while the body was streaming: the client must see it too.
            ctx.error_code = getattr(exc, "code", "upstream_reset")
            self.client.abort()
            self._finish()
            return
        ctx.upstream_duration = time.perf_counter() - self.started
        hooks = self.proxy.attempt_hooks
        if hooks is not None:
            hooks.attempt_finished(ctx, self.host, 0, exc)
        self.cluster.record(self.host, local_failure=True)
        assert isinstance(exc, UpstreamError)
        self.proxy.observer.attempt_failed(ctx, exc)
        self._hand_over((self.host, exc))

    # --- endings ------------------------------------------------------------------
    def _release(self) -> None:
        self.host.active_requests -= 1
        self.cluster.active_requests -= 1
        self.cluster.limits.release_request()

    def _finish(self) -> None:
        self._release()
        self.proxy.observer.request_finished(self.ctx, self.req)
        self.client.fast_done(self.exchange)

    def _hand_over(self, prior: tuple[Host, UpstreamError | int]) -> None:
        """Let the coroutine path retry (or answer the error), as if it had made attempt 1."""
        self._release()
        coro = self.proxy.continue_after(
            self.client, self.ctx, self.req, self.route, self.snapshot, prior
        )
        self.client.continue_with(self.exchange, coro)

    def cancel(self) -> None:
        """The client went away mid-exchange."""
        self.conn.detach()
        self.conn.abort()
        self.ctx.status = self.ctx.status or 499
        self.ctx.error_code = self.ctx.error_code or "client_disconnected"
        self._release()
        self.proxy.observer.request_finished(self.ctx, self.req)


def try_fast(proxy: Proxy, client: ClientConnection, exchange: Exchange) -> bool:
    """Start ``exchange`` on the fast path; False leaves it to the coroutine path."""
    snapshot = proxy.snapshot
    entry = snapshot.entry_chain
    if not entry.all_sync:
        return False
    req = exchange.request
    router = snapshot.router
    route = router.match(req)
    if route is None:
        return False
    chain = snapshot.chains[route.name]
    if not chain.all_sync:
        return False
    cluster_name = route.config.upstream or ""
    delivery = snapshot.delivery.get(route.name) if snapshot.delivery else None
    if delivery is not None:
        if delivery.needs_identity:
            return False  # canary rules on the consumer: choose after authentication
        # Chosen once per request: the coroutine path takes this choice over.
        cluster_name = client.preselected_cluster = delivery.choose(req, None)
    cluster = snapshot.clusters[cluster_name]
    if not cluster.allow_request():
        return False
    host = cluster.pick(cluster.hash_key(req))
    if host is None:
        return False
    conn = cluster.pool.take_idle(host.address)
    if conn is None:
        # The coroutine path connects; it must use this host, or round robin would skip one.
        client.preselected_host = host
        return False
    client.preselected_cluster = ""
    ctx = RequestContext()
    observer = proxy.observer
    observer.request_started(ctx, req, False)
    reply: LocalReply | None = entry.on_request_sync(ctx, req)
    if reply is None:
        ctx.route = route.name
        ctx.cluster = cluster_name
        if chain.hooks:
            reply = chain.on_request_sync(ctx, req)
    if reply is not None or not cluster.limits.try_acquire_request():
        cluster.pool.release(conn)
        if reply is None:
            reply = LocalReply(503, cv.ERR_OVERLOADED, f"cluster {cluster.name} is at its limit")
        proxy.local(client, ctx, reply, req)
        observer.request_finished(ctx, req)
        client.fast_done(exchange)
        return True
    cluster.active_requests += 1
    hooks = proxy.attempt_hooks
    extra = hooks.upstream_headers(ctx, req) if hooks is not None else None
    if hooks is not None:
        extra = hooks.attempt_started(ctx, host) or extra
    head = request_head(
        req, route.upstream_path(req.path), ctx.request_id, body_framing=b"", extra=extra or []
    )
    if delivery is not None and delivery.mirror is not None:
        mirror = delivery.mirror
        proxy.shadow.mirror(
            mirror,
            snapshot.clusters.get(mirror.cluster),
            head,
            b"",
            head_only=req.method == "HEAD",
        )
    fast = FastExchange(proxy, client, exchange, ctx, route, cluster, snapshot, host, conn)
    client.fast = fast
    fast.send(head, client.loop.time())
    return True
