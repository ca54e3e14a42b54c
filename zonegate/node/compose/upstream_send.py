"""The engine side of composition: send one call through a node's upstream cluster.

Same machinery as proxied requests (host picking, pooled keep-alive
connections, TLS, breaker and outlier feedback); the response body is
collected in memory, bounded, instead of being streamed to a client.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping

from zonegate.node.compose.executor import SendCall, UpstreamCall
from zonegate.node.errors import NodeError, UpstreamError, UpstreamTimeout
from zonegate.node.http import Headers
from zonegate.node.upstream.cluster import UpstreamCluster

MAX_BODY_BYTES = 8 * 1024 * 1024


class CallFailed(NodeError):
    """A composition call that could not be sent (no cluster, no host, breaker open, too big)."""

    status = 502
    code = "upstream_unavailable"


class _Collector:
    """A response sink that keeps the body, up to a limit."""

    __slots__ = ("chunks", "limit", "size", "too_big")

    def __init__(self, limit: int) -> None:
        self.chunks: list[bytes] = []
        self.size = 0
        self.limit = limit
        self.too_big = False

    def write(self, data: bytes) -> None:
        self.size += len(data)
        if self.size > self.limit:
            self.too_big = True
            return
        self.chunks.append(data)

    def pause_source(self, pause: Callable[[], None], resume: Callable[[], None]) -> None:
        return None


def request_head(call: UpstreamCall, authority: str) -> bytes:
    lines = [f"{call.method} {call.target} HTTP/1.1\r\nhost: {authority}\r\n".encode("latin-1")]
    lines.extend(b"%b: %b\r\n" % (k, v) for k, v in call.headers)
    lines.append(b"\r\n")
    return b"".join(lines)


def cluster_sender(
    clusters: Callable[[], Mapping[str, UpstreamCluster]], max_body_bytes: int = MAX_BODY_BYTES
) -> SendCall:
    """A ``send`` for composition over the clusters ``clusters()`` returns (the live snapshot's)."""

    async def send(call: UpstreamCall) -> tuple[int, Headers, bytes]:
        cluster = clusters().get(call.cluster)
        if cluster is None:
            raise CallFailed(f"no cluster {call.cluster!r}")
        if not cluster.allow_request():
            raise CallFailed(f"circuit breaker of cluster {call.cluster} is open")
        host = cluster.pick(None)
        if host is None:
            raise CallFailed(f"no healthy host in cluster {call.cluster}")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + call.timeout_s
        pool = cluster.pool
        host.active_requests += 1
        conn = None
        try:
            conn = pool.take_idle(host.address) or await pool.connect(
                host.host,
                host.port,
                min(cluster.cfg.connect_timeout_s, call.timeout_s),
                host.address,
            )
            conn.arm_timeout(deadline)
            await conn.send(request_head(call, host.address), head_only=False)
            sink = _Collector(max_body_bytes)
            conn.forward(sink, b"", chunked=False)
            await conn.done
            conn.disarm_timeout()
            conn.finish_forward()
        except UpstreamError as exc:
            if conn is not None:
                conn.abort()
            cluster.record(host, local_failure=True)
            if isinstance(exc, UpstreamTimeout):
                raise TimeoutError(str(exc)) from None
            raise
        except BaseException:
            if conn is not None:
                conn.abort()
            raise
        finally:
            host.active_requests -= 1
        status = conn.status
        cluster.record(host, status=status)
        if sink.too_big:
            conn.abort()
            raise CallFailed(f"answer of {call.name} is larger than {max_body_bytes} bytes")
        pool.release(conn)
        return status, list(conn.response_headers), b"".join(sink.chunks)

    return send
