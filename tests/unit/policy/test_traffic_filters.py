"""Rate limit, transform, CORS and aggregate filters, built through build_route_filters."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any

import pytest

from zonegate.config.aggregate import Aggregate
from zonegate.config.policies import Consumer, Policies, RoutePolicies
from zonegate.node.compose.executor import UpstreamCall
from zonegate.node.context import RequestContext
from zonegate.node.filters.base import FilterChain, LocalReply
from zonegate.node.filters.policy_build import build_route_filters
from zonegate.node.filters.policy_deps import CountingPolicyObserver, PolicyDeps, PolicyState
from zonegate.node.http import Headers, Request, ResponseHead
from zonegate.node.policy.decision import Decision, LimitSpec
from zonegate.node.policy.errors import PolicyBuildError
from zonegate.node.policy.limiter import RateLimitBackend


@dataclass(frozen=True)
class PathView:
    regex: str | None = None


@dataclass(frozen=True)
class MatchView:
    path: PathView = PathView()


@dataclass(frozen=True)
class RouteView:
    name: str
    policies: RoutePolicies | None = None
    aggregate: Aggregate | None = None
    timeout_s: float = 5.0
    match: MatchView = MatchView()


@dataclass(frozen=True)
class ConfigView:
    consumers: list[Consumer] = field(default_factory=list)
    policies: Policies = field(default_factory=Policies)
    routes: list[RouteView] = field(default_factory=list)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def chain_for(
    policies: dict[str, Any], deps: PolicyDeps, *, top: dict[str, Any] | None = None, **route: Any
) -> FilterChain:
    config = ConfigView(policies=Policies.model_validate(top or {}))
    view = RouteView("r", RoutePolicies.model_validate(policies), **route)
    return FilterChain(build_route_filters(view, config, deps))


def req(
    headers: Headers | None = None,
    method: str = "GET",
    ip: str = "192.0.2.1",
    path: str = "/r",
    query: str = "",
) -> Request:
    return Request(method, path, query, [(b"host", b"gw.example"), *(headers or [])], client_ip=ip)


async def through(
    chain: FilterChain, request: Request, status: int = 200
) -> tuple[LocalReply | None, ResponseHead]:
    ctx = RequestContext("rid-7")
    ctx.route = "r"
    reply = await chain.on_request(ctx, request)
    resp = ResponseHead(status, [(b"content-type", b"application/json")])
    if reply is None:
        await chain.on_response(ctx, resp)
    return reply, resp


def limit(**cfg: Any) -> dict[str, Any]:
    base = {"name": "per-ip", "algorithm": "token_bucket", "requests": 2, "per_s": 10}
    return {"rate_limits": [{**base, **cfg}]}


async def test_429_with_headers_then_refill() -> None:
    clock = Clock()
    deps = PolicyDeps(state=PolicyState(clock=clock), clock=clock)
    chain = chain_for(limit(), deps)
    assert (await through(chain, req()))[0] is None
    assert (await through(chain, req()))[0] is None
    reply, _ = await through(chain, req())
    assert reply is not None and reply.status == 429 and reply.code == "rate_limited"
    assert dict(reply.headers) == {
        b"retry-after": b"5",
        b"ratelimit-limit": b"2",
        b"ratelimit-remaining": b"0",
        b"ratelimit-reset": b"10",
    }
    assert (await through(chain, req(ip="192.0.2.2")))[0] is None  # per IP
    clock.now += 5
    assert (await through(chain, req()))[0] is None


async def test_headers_on_allowed_responses_when_configured() -> None:
    clock = Clock()
    deps = PolicyDeps(state=PolicyState(clock=clock), clock=clock)
    chain = chain_for(limit(headers=True, requests=5), deps)
    reply, resp = await through(chain, req())
    assert reply is None
    assert (b"ratelimit-remaining", b"4") in resp.headers and (
        b"ratelimit-limit",
        b"5",
    ) in resp.headers
    plain = chain_for(limit(requests=5), PolicyDeps(state=PolicyState(clock=clock)))
    _, resp = await through(plain, req())
    assert not any(k.startswith(b"ratelimit") for k, _ in resp.headers)


async def test_shadow_mode_counts_logs_and_lets_through(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="zonegate.ratelimit")
    clock = Clock()
    observer = CountingPolicyObserver()
    deps = PolicyDeps(state=PolicyState(clock=clock), clock=clock, observer=observer)
    chain = chain_for(limit(enforce=False, requests=1), deps)
    for _ in range(5):
        assert (await through(chain, req()))[0] is None
    assert observer.rate_limits[("r", "per-ip", "shadow_limited")] == 4
    shadow_logs = [r for r in caplog.records if r.getMessage() == "rate_limit_shadow"]
    assert len(shadow_logs) == 1  # throttled to one a second
    clock.now += 1.5
    await through(chain, req())
    shadow_logs = [r for r in caplog.records if r.getMessage() == "rate_limit_shadow"]
    assert len(shadow_logs) == 2 and shadow_logs[1].__dict__["suppressed"] == 3


async def test_limit_state_survives_rebuild() -> None:
    clock = Clock()
    deps = PolicyDeps(state=PolicyState(clock=clock), clock=clock)
    first = chain_for(limit(requests=1), deps)
    assert (await through(first, req()))[0] is None
    second = chain_for(limit(requests=1), deps)  # same spec, next snapshot
    reply, _ = await through(second, req())
    assert reply is not None and reply.status == 429


async def test_cluster_scope_uses_global_backend_seam() -> None:
    seen: list[tuple[str, LimitSpec]] = []

    class Global:
        def __init__(self, local: RateLimitBackend) -> None:
            self.local = local
            self.spec = local.spec

        def hit(self, key: str, cost: int = 1) -> Decision:
            return Decision(False, 7, 0, 3.0, 3.0)

    def factory(route: str, spec: LimitSpec, local: RateLimitBackend) -> RateLimitBackend:
        seen.append((route, spec))
        return Global(local)

    deps = PolicyDeps(global_rate_limits=factory)
    reply, _ = await through(chain_for(limit(scope="cluster"), deps), req())
    assert reply is not None and reply.status == 429 and (b"ratelimit-limit", b"7") in reply.headers
    assert seen[0][0] == "r" and seen[0][1].scope == "cluster"
    node_scoped = chain_for(limit(name="other"), deps)  # scope node: local, no factory call
    assert (await through(node_scoped, req()))[0] is None and len(seen) == 1


async def test_per_ip_behind_trusted_proxy() -> None:
    clock = Clock()
    deps = PolicyDeps(state=PolicyState(clock=clock), clock=clock)
    chain = chain_for(limit(requests=1), deps, top={"trusted_proxies": ["10.0.0.0/8"]})
    via_proxy = [(b"x-forwarded-for", b"198.51.100.1")]
    assert (await through(chain, req(via_proxy, ip="10.0.0.2")))[0] is None
    reply, _ = await through(chain, req(via_proxy, ip="10.0.0.3"))  # same client, other proxy
    assert reply is not None and reply.status == 429
    other = [(b"x-forwarded-for", b"198.51.100.2")]
    assert (await through(chain, req(other, ip="10.0.0.2")))[0] is None
    forged = [(b"x-forwarded-for", b"198.51.100.9")]
    assert (await through(chain, req(forged, ip="203.0.113.5")))[0] is None
    reply, _ = await through(chain, req(forged, ip="203.0.113.5"))  # untrusted peer: keyed by peer
    assert reply is not None


async def test_header_transforms_with_variables() -> None:
    deps = PolicyDeps(node="n1", zone="eu-1")
    transform = {
        "request_headers": {
            "set": {"x-zone": "${zone}", "x-who": "${consumer}@${route}"},
            "add": {"x-trace-note": "rid=${request_id} ip=${client_ip} ${method} ${path} ${host}"},
            "remove": ["x-internal"],
        },
        "response_headers": {
            "set": {"x-served": "${node}/${zone}", "server": "zonegate"},
            "remove": ["x-powered-by"],
        },
    }
    chain = chain_for({"transform": transform}, deps)
    request = req([(b"x-internal", b"secret"), (b"x-zone", b"forged")])
    ctx = RequestContext("rid-7")
    ctx.route = "r"
    ctx.consumer = "alice"
    assert await chain.on_request(ctx, request) is None
    headers = dict(request.headers)
    assert b"x-internal" not in headers
    assert [v for k, v in request.headers if k == b"x-zone"] == [b"eu-1"]
    assert headers[b"x-who"] == b"alice@r"
    assert headers[b"x-trace-note"] == b"rid=rid-7 ip=192.0.2.1 GET /r gw.example"
    resp = ResponseHead(200, [(b"x-powered-by", b"php"), (b"server", b"nginx")])
    await chain.on_response(ctx, resp)
    assert resp.headers == [(b"x-served", b"n1/eu-1"), (b"server", b"zonegate")]


async def test_response_transform_with_request_variables() -> None:
    chain = chain_for(
        {"transform": {"response_headers": {"add": {"x-echo-path": "${path}"}}}}, PolicyDeps()
    )
    _, resp = await through(chain, req(path="/r/1"))
    assert (b"x-echo-path", b"/r/1") in resp.headers


CORS = {
    "cors": {
        "allow_origins": ["https://app.example", "https://*.tenant.example"],
        "expose_headers": ["x-request-id"],
        "allow_credentials": True,
    }
}


async def test_cors_preflight_answered_at_gateway() -> None:
    chain = chain_for({**CORS, "auth": {"type": "api_key"}}, PolicyDeps())
    preflight = req(
        [
            (b"origin", b"https://app.example"),
            (b"access-control-request-method", b"PUT"),
            (b"access-control-request-headers", b"Content-Type, X-API-Key"),
        ],
        method="OPTIONS",
    )
    reply, _ = await through(chain, preflight)  # before auth: no key needed
    assert reply is not None and reply.status == 204 and reply.body == b""
    headers = dict(reply.headers)
    assert headers[b"access-control-allow-origin"] == b"https://app.example"
    assert headers[b"access-control-allow-credentials"] == b"true"
    assert b"PUT" in headers[b"access-control-allow-methods"]
    assert b"x-api-key" in headers[b"access-control-allow-headers"]
    assert headers[b"access-control-max-age"] == b"600" and headers[b"vary"] == b"Origin"


@pytest.mark.parametrize(
    ("origin", "method", "asked", "ok"),
    [
        (b"https://a.tenant.example", b"GET", b"", True),
        (b"https://tenant.example", b"GET", b"", False),
        (b"http://a.tenant.example", b"GET", b"", False),
        (b"https://evil.example", b"GET", b"", False),
        (b"https://app.example", b"CONNECT", b"", False),
        (b"https://app.example", b"GET", b"x-custom", False),
    ],
)
async def test_cors_preflight_refusals(
    origin: bytes, method: bytes, asked: bytes, ok: bool
) -> None:
    chain = chain_for(CORS, PolicyDeps())
    headers = [(b"origin", origin), (b"access-control-request-method", method)]
    if asked:
        headers.append((b"access-control-request-headers", asked))
    reply, _ = await through(chain, req(headers, method="OPTIONS"))
    assert reply is not None
    assert reply.status == (204 if ok else 403)


async def test_cors_actual_request_headers() -> None:
    chain = chain_for(CORS, PolicyDeps())
    _, resp = await through(chain, req([(b"origin", b"https://app.example")]))
    headers = dict(resp.headers)
    assert headers[b"access-control-allow-origin"] == b"https://app.example"
    assert headers[b"access-control-expose-headers"] == b"x-request-id"
    _, resp = await through(chain, req([(b"origin", b"https://evil.example")]))
    assert b"access-control-allow-origin" not in dict(resp.headers)
    star = chain_for({"cors": {"allow_origins": ["*"]}}, PolicyDeps())
    _, resp = await through(star, req([(b"origin", b"https://x.example")]))
    assert dict(resp.headers)[b"access-control-allow-origin"] == b"*"


async def test_aggregate_route_answers_locally() -> None:
    sent: list[UpstreamCall] = []

    async def send(call: UpstreamCall) -> tuple[int, Headers, bytes]:
        sent.append(call)
        if call.name == "ads":
            return 503, [], b""
        return 200, [], json.dumps({"call": call.name, "target": call.target}).encode()

    agg = Aggregate.model_validate(
        {
            "calls": [
                {"name": "user", "cluster": "users", "path": "/users/{path.id}"},
                {"name": "ads", "cluster": "ads", "path": "/ads?u={path.id}", "required": False},
            ]
        }
    )
    chain = chain_for(
        {}, PolicyDeps(send=send), aggregate=agg, match=MatchView(PathView(r"^/u/(?P<id>\d+)$"))
    )
    request = req([(b"authorization", b"Bearer t"), (b"connection", b"keep-alive")], path="/u/7")
    reply, _ = await through(chain, request)
    assert reply is not None and reply.status == 200 and reply.body is not None
    assert json.loads(reply.body) == {"user": {"call": "user", "target": "/users/7"}}
    assert reply.headers == [(b"x-zonegate-partial", b"ads")]
    forwarded = dict(sent[0].headers)
    assert forwarded[b"authorization"] == b"Bearer t" and b"connection" not in forwarded


def test_aggregate_needs_send_and_valid_params() -> None:
    agg = Aggregate.model_validate(
        {"calls": [{"name": "u", "cluster": "c", "path": "/u/{path.id}"}]}
    )
    with pytest.raises(PolicyBuildError, match="send"):
        chain_for({}, PolicyDeps(), aggregate=agg)

    async def send(call: UpstreamCall) -> tuple[int, Headers, bytes]:
        return 200, [], b"{}"

    with pytest.raises(PolicyBuildError, match="named group"):
        chain_for({}, PolicyDeps(send=send), aggregate=agg)
