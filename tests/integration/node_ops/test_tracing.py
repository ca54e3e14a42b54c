"""Trace propagation with an in-memory span exporter."""

from __future__ import annotations

from typing import Any

import aiohttp
from opentelemetry.trace import SpanKind, StatusCode

from zonegate.node.ops.traceparent import parse_traceparent

INCOMING_TRACE = 0x0AF7651916CD43DD8448EB211C80319C
INCOMING_SPAN = 0xB7AD6B7169203331


def traceparent(flags: str) -> str:
    return f"00-{INCOMING_TRACE:032x}-{INCOMING_SPAN:016x}-{flags}"


def config(
    *addresses: str, ratio: float, retry: dict[str, Any] | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    document = {
        "clusters": [
            {
                "name": "app",
                "endpoints": [{"address": a, "zone": "zone-a"} for a in addresses],
                "lb": {"policy": "round_robin"},
                "outlier_detection": None,
            }
        ],
        "routes": [{"name": "all", "upstream": "app", "retry": retry or {}}],
    }
    return document, {"tracing": {"sample_ratio": ratio}}


async def get(url: str, headers: dict[str, str] | None = None) -> int:
    async with aiohttp.ClientSession() as session, session.get(url, headers=headers) as resp:
        await resp.read()
        return resp.status


def seen(backends, name: str) -> list[str | None]:
    """The ``name`` header of every request the backends saw (None when absent)."""
    lower = [{k.lower(): v for k, v in h.items()} for b in backends for h in b.state.seen_headers]
    return [h.get(name) for h in lower]


def seen_traceparents(*backends) -> list[str]:
    values = seen(backends, "traceparent")
    assert all(v is not None for v in values), values
    return [v for v in values if v is not None]


async def test_sampled_parent_gives_server_span_and_a_client_span_per_attempt(
    ops_node, backends
) -> None:
    bad, good = await backends("bad"), await backends("good")
    bad.state.fail_status = 503
    document, node = config(
        bad.address,
        good.address,
        ratio=0.0,  # a sampled parent is followed whatever the ratio
        retry={"retry_on": ["5xx"], "max_attempts": 3, "backoff": {"base_s": 0.001}},
    )
    item = await ops_node(document, node=node)
    statuses = [
        await get(item.url("/echo"), {"traceparent": traceparent("01"), "tracestate": "k=v"})
        for _ in range(2)  # round robin: at least one request meets the bad host first
    ]
    assert statuses == [200, 200]
    spans = item.spans.get_finished_spans()
    servers = [s for s in spans if s.kind is SpanKind.SERVER]
    clients = [s for s in spans if s.kind is SpanKind.CLIENT]
    assert len(servers) == 2
    attempts = sum(s.attributes["zonegate.attempts"] for s in servers)
    assert len(clients) == attempts == bad.state.hits + good.state.hits
    assert attempts >= 3
    for server in servers:
        assert server.context.trace_id == INCOMING_TRACE
        assert server.parent is not None and server.parent.span_id == INCOMING_SPAN
        assert server.parent.is_remote
        assert server.name == "GET all"
        assert server.attributes["http.response.status_code"] == 200
        assert server.attributes["http.route"] == "all"
        assert server.context.trace_state.get("k") == "v"
    retried = next(s for s in servers if s.attributes["zonegate.attempts"] == 2)
    children = [c for c in clients if c.parent.span_id == retried.context.span_id]
    assert len(children) == 2
    first, second = sorted(children, key=lambda s: s.start_time)
    assert first.attributes["http.response.status_code"] == 503
    assert first.status.status_code is StatusCode.ERROR
    assert "http.request.resend_count" not in first.attributes
    assert second.attributes["http.response.status_code"] == 200
    assert second.attributes["http.request.resend_count"] == 1
    assert first.end_time <= second.start_time <= second.end_time <= retried.end_time
    for client in clients:
        assert client.context.trace_id == INCOMING_TRACE
    # Every backend saw exactly our client span as its parent, with the sampled flag.
    sent = [parse_traceparent(v.encode()) for v in seen_traceparents(bad, good)]
    client_ids = {c.context.span_id for c in clients}
    assert len(sent) == attempts
    assert {p.span_id for p in sent if p is not None} == client_ids
    assert all(p is not None and p.trace_id == INCOMING_TRACE and p.sampled for p in sent)
    assert seen((bad, good), "tracestate") == ["k=v"] * attempts


async def test_unsampled_parent_passes_through_without_spans(ops_node, backends) -> None:
    backend = await backends()
    document, node = config(backend.address, ratio=1.0)
    item = await ops_node(document, node=node)
    assert await get(item.url("/echo"), {"traceparent": traceparent("00")}) == 200
    assert item.spans.get_finished_spans() == ()
    assert seen_traceparents(backend) == [traceparent("00")]


async def test_new_trace_at_ratio_one_is_sampled(ops_node, backends) -> None:
    backend = await backends()
    document, node = config(backend.address, ratio=1.0)
    item = await ops_node(document, node=node)
    assert await get(item.url("/echo")) == 200
    (server,) = [s for s in item.spans.get_finished_spans() if s.kind is SpanKind.SERVER]
    (client,) = [s for s in item.spans.get_finished_spans() if s.kind is SpanKind.CLIENT]
    assert server.parent is None
    assert client.parent.span_id == server.context.span_id
    (sent,) = seen_traceparents(backend)
    parsed = parse_traceparent(sent.encode())
    assert parsed is not None and parsed.sampled
    assert parsed.trace_id == server.context.trace_id
    assert parsed.span_id == client.context.span_id


async def test_new_trace_at_ratio_zero_only_propagates(ops_node, backends) -> None:
    backend = await backends()
    document, node = config(backend.address, ratio=0.0)
    item = await ops_node(document, node=node)
    for _ in range(3):
        assert await get(item.url("/echo"), {"traceparent": "not-a-traceparent"}) == 200
    assert item.spans.get_finished_spans() == ()
    sent = [parse_traceparent(v.encode()) for v in seen_traceparents(backend)]
    assert all(p is not None and not p.sampled for p in sent)
    assert len({p.trace_id for p in sent if p is not None}) == 3  # a new trace each


async def test_failed_attempts_end_their_client_span_with_the_error(ops_node, backends) -> None:
    from zonegate.testing.ports import free_port

    dead = f"127.0.0.1:{free_port()}"
    document, node = config(dead, ratio=1.0, retry={"max_attempts": 1})
    item = await ops_node(document, node=node)
    assert await get(item.url("/echo")) == 503
    spans = item.spans.get_finished_spans()
    (client,) = [s for s in spans if s.kind is SpanKind.CLIENT]
    (server,) = [s for s in spans if s.kind is SpanKind.SERVER]
    assert client.attributes["error.type"] == "upstream_connect_failed"
    assert client.status.status_code is StatusCode.ERROR
    assert server.status.status_code is StatusCode.ERROR
    assert server.attributes["error.type"] == "upstream_connect_failed"


async def test_without_an_exporter_traces_pass_through_and_none_start(backends) -> None:
    """No OTLP endpoint: no spans leave the node, so it starts no trace of its own."""
    from zonegate.config.loader import parse_config
    from zonegate.node.ops.assembly import NodeOps
    from zonegate.node.runtime import GatewayNode

    backend = await backends("b1")
    document, node = config(backend.address, ratio=1.0)
    cfg = parse_config({"version": 1, **document, "node": node})
    ops = NodeOps(cfg.node, "node-1", "zone-a")
    assert ops.provider is None
    gw = GatewayNode(cfg, node_id="node-1", zone="zone-a", **ops.node_kwargs())
    ops.start()
    try:
        host, port = await gw.start("127.0.0.1", 0)
        assert await get(f"http://{host}:{port}/echo") == 200
        assert await get(f"http://{host}:{port}/echo", {"traceparent": traceparent("01")}) == 200
    finally:
        await gw.stop()
        await ops.close()
    assert seen([backend], "traceparent") == [None, traceparent("01")]
