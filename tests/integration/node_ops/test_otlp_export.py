"""Spans leave the node over OTLP/HTTP (JSON and protobuf) and reach a real HTTP receiver."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from google.protobuf.json_format import MessageToDict
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from zonegate.config.loader import parse_config
from zonegate.node.ops.assembly import NodeOps
from zonegate.node.runtime import GatewayNode


class Collector:
    """A minimal OTLP/HTTP receiver: keeps every ``POST /v1/traces`` as a dict."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self.arrived = asyncio.Event()

    async def traces(self, request: web.Request) -> web.Response:
        body = await request.read()
        if request.content_type == "application/json":
            decoded = json.loads(body)
        else:
            message = ExportTraceServiceRequest.FromString(body)
            decoded = MessageToDict(message)
        self.requests.append((request.content_type, decoded))
        self.arrived.set()
        return web.json_response({})

    def spans(self) -> list[dict[str, Any]]:
        return [
            span
            for _, body in self.requests
            for rs in body["resourceSpans"]
            for ss in rs["scopeSpans"]
            for span in ss["spans"]
        ]


@pytest.fixture
async def collector() -> AsyncIterator[tuple[Collector, str]]:
    receiver = Collector()
    app = web.Application()
    app.router.add_post("/v1/traces", receiver.traces)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield receiver, f"http://127.0.0.1:{port}"
    await runner.cleanup()


def _hex(value: str, encoding: str) -> str:
    # protobuf's JSON form (MessageToDict) writes bytes as base64; OTLP JSON as hex
    return value if encoding == "application/json" else __import__("base64").b64decode(value).hex()


@pytest.mark.parametrize(
    ("protocol", "encoding"),
    [("http/json", "application/json"), ("http/protobuf", "application/x-protobuf")],
)
async def test_server_and_client_spans_are_exported(
    protocol: str, encoding: str, collector: tuple[Collector, str], backends: Any
) -> None:
    receiver, endpoint = collector
    backend = await backends("b1")
    config = parse_config(
        {
            "version": 1,
            "clusters": [{"name": "app", "endpoints": [{"address": backend.address}]}],
            "routes": [{"name": "all", "upstream": "app"}],
            "node": {
                "tracing": {
                    "otlp_endpoint": endpoint,
                    "otlp_protocol": protocol,
                    "sample_ratio": 1.0,
                    "service_name": "edge",
                }
            },
        }
    )
    ops = NodeOps(config.node, "node-1", "zone-a")
    node = GatewayNode(config, node_id="node-1", zone="zone-a", **ops.node_kwargs())
    ops.start()
    try:
        host, port = await node.start("127.0.0.1", 0)
        async with aiohttp.ClientSession() as session:
            async with session.get(f"http://{host}:{port}/orders?id=7") as resp:
                assert resp.status == 200
                request_id = resp.headers["x-request-id"]
        assert ops.provider is not None
        assert await asyncio.to_thread(ops.provider.force_flush, 5000)
        await asyncio.wait_for(receiver.arrived.wait(), 5)
    finally:
        await node.stop()
        await ops.close()

    assert {content_type for content_type, _ in receiver.requests} == {encoding}
    _, body = receiver.requests[0]
    resource = {a["key"]: a["value"] for a in body["resourceSpans"][0]["resource"]["attributes"]}
    assert resource["service.name"] == {"stringValue": "edge"}
    assert resource["cloud.availability_zone"] == {"stringValue": "zone-a"}
    spans = {span["kind"]: span for span in receiver.spans()}
    kinds = {
        "application/json": (2, 3),
        "application/x-protobuf": ("SPAN_KIND_SERVER", "SPAN_KIND_CLIENT"),
    }
    server, client = spans[kinds[encoding][0]], spans[kinds[encoding][1]]
    assert len(receiver.spans()) == 2
    assert _hex(server["traceId"], encoding) == _hex(client["traceId"], encoding)
    assert len(_hex(server["traceId"], encoding)) == 32
    assert _hex(client["parentSpanId"], encoding) == _hex(server["spanId"], encoding)
    assert "parentSpanId" not in server
    attributes = {a["key"]: a["value"] for a in server["attributes"]}
    assert attributes["http.request.method"] == {"stringValue": "GET"}
    assert attributes["url.path"] == {"stringValue": "/orders"}
    assert attributes["http.response.status_code"] == {"intValue": "200"}
    assert attributes["zonegate.request_id"] == {"stringValue": request_id}
    assert server["name"] == "GET all"
    assert int(server["endTimeUnixNano"]) >= int(server["startTimeUnixNano"]) > 0
