"""Custom error bodies over real sockets: each gateway error code, content negotiation,
and upstream errors passed through or replaced per route."""

from __future__ import annotations

import json
import socket
from collections.abc import Sequence
from typing import Any

from zonegate.config.model import ClusterConfig
from zonegate.node.context import RequestContext
from zonegate.node.filters.base import CONTINUE, Filter, FilterResult, LocalReply
from zonegate.node.http import Request
from zonegate.testing.http1 import Http1Client

BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


class LimitWhenAsked:
    """Answers 429 with Retry-After when the request carries x-limit (a rate-limit stand-in)."""

    name = "limit_when_asked"

    def on_request(self, ctx: RequestContext, req: Request) -> FilterResult:
        if req.header(b"x-limit") is not None:
            return LocalReply(429, "rate_limited", "slow down", headers=[(b"retry-after", b"7")])
        return CONTINUE


def route_filters(config: ClusterConfig, route: str) -> Sequence[Filter]:
    return [LimitWhenAsked()]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pages_config(backend: str) -> dict[str, Any]:
    fast_fail = {"outlier_detection": None, "circuit_breaker": {"error_rate": {"enabled": False}}}
    return {
        "clusters": [
            {"name": "app", "endpoints": [{"address": backend}], **fast_fail},
            {"name": "dead", "endpoints": [{"address": f"127.0.0.1:{closed_port()}"}], **fast_fail},
            {
                "name": "flaky",
                "endpoints": [{"address": backend}],
                "outlier_detection": None,
                "circuit_breaker": {
                    "error_rate": {"threshold": 0.5, "min_requests": 2, "open_s": 60}
                },
            },
        ],
        "error_pages": {
            "default": {
                "json_template": {
                    "oops": "${code}",
                    "status": "${status}",
                    "id": "${request_id}",
                    "retry_after": "${retry_after}",
                    "message": "${message}",
                },
                "html_template": "<h1>${status} ${reason}</h1><p>${code} ${request_id}</p>",
            },
            "by_code": {"circuit_open": {"json_template": {"try": "later", "code": "${code}"}}},
        },
        "routes": [
            {
                "name": "slow",
                "match": {"path": {"prefix": "/delay"}},
                "upstream": "app",
                "timeout_s": 0.2,
            },
            {"name": "dead", "match": {"path": {"prefix": "/dead"}}, "upstream": "dead"},
            {"name": "flaky", "match": {"path": {"prefix": "/flaky"}}, "upstream": "flaky"},
            {
                "name": "replaced",
                "match": {"path": {"prefix": "/replaced"}},
                "upstream": "app",
                "rewrite": {"prefix": "/status"},
                "error_pages": {
                    "upstream_errors": "replace",
                    "by_status": {
                        503: {"json_template": {"route": "${route}", "was": "${status}"}}
                    },
                },
            },
            {
                "name": "passed",
                "match": {"path": {"prefix": "/passed"}},
                "upstream": "app",
                "rewrite": {"prefix": "/status"},
            },
            {
                "name": "app",
                "match": {"path": {"prefix": "/app"}},
                "upstream": "app",
                "rewrite": {"strip_prefix": "/app"},
            },
        ],
    }


async def test_every_gateway_error_gets_the_custom_body(gateway, backends) -> None:
    backend = await backends("b")
    node = await gateway(pages_config(backend.address), route_filters=route_filters)
    client = Http1Client(*node.host_port)
    try:
        cases = [
            ("GET", "/nowhere", {}, 404, "route_not_found"),
            ("GET", "/app/echo", {"x-limit": "1"}, 429, "rate_limited"),
            ("GET", "/app/reset", {}, 502, "upstream_reset"),
            ("GET", "/dead/x", {}, 503, "upstream_connect_failed"),
            ("GET", "/delay/500", {}, 504, "upstream_timeout"),
            ("POST", "/delay/500", {}, 504, "upstream_timeout"),
        ]
        for method, path, headers, status, code in cases:
            resp = await client.request(method, path, headers)
            assert resp.status == status, (path, resp.body)
            assert resp.headers["content-type"] == "application/json"
            body = json.loads(resp.body)
            assert body["oops"] == code
            assert body["status"] == status
            assert body["id"] == resp.headers["x-request-id"]
            if status == 429:
                assert body["retry_after"] == 7
                assert resp.headers["retry-after"] == "7"
            else:
                assert body["retry_after"] == ""
    finally:
        await client.close()


async def test_circuit_open_has_its_own_body(gateway, backends) -> None:
    backend = await backends("b")
    backend.state.fail_status = 500
    node = await gateway(pages_config(backend.address))
    client = Http1Client(*node.host_port)
    try:
        statuses = [(await client.request("GET", "/flaky/x")).status for _ in range(2)]
        assert statuses == [500, 500]  # upstream answers pass through by default
        resp = await client.request("GET", "/flaky/x")
    finally:
        await client.close()
    assert resp.status == 503
    assert json.loads(resp.body) == {"try": "later", "code": "circuit_open"}


async def test_browsers_get_html(gateway, backends) -> None:
    backend = await backends("b")
    node = await gateway(pages_config(backend.address))
    client = Http1Client(*node.host_port)
    try:
        resp = await client.request("GET", "/nowhere", {"accept": BROWSER})
        json_resp = await client.request("GET", "/nowhere", {"accept": "application/json"})
    finally:
        await client.close()
    assert resp.status == 404
    assert resp.headers["content-type"] == "text/html; charset=utf-8"
    rid = resp.headers["x-request-id"]
    assert resp.body.decode() == f"<h1>404 Not Found</h1><p>route_not_found {rid}</p>"
    assert json.loads(json_resp.body)["oops"] == "route_not_found"


async def test_upstream_errors_replaced_or_passed_per_route(gateway, backends) -> None:
    backend = await backends("b")
    node = await gateway(pages_config(backend.address))
    client = Http1Client(*node.host_port)
    try:
        replaced = [await client.request("GET", "/replaced/503") for _ in range(3)]
        replaced.append(await client.request("POST", "/replaced/503", body=b"{}"))
        passed = await client.request("GET", "/passed/503")
        not_replaced = await client.request("GET", "/replaced/404")
        fine = await client.request("GET", "/replaced/200")
    finally:
        await client.close()
    for resp in replaced:  # fast path (GET, pooled connection) and coroutine path (POST)
        assert resp.status == 503
        assert json.loads(resp.body) == {"route": "replaced", "was": 503}
    # the default template of the top level covers the other replaced statuses
    assert passed.status == 503 and passed.body == b"status 503 from b"
    assert not_replaced.status == 404 and not_replaced.body == b"status 404 from b"
    assert fine.status == 200
