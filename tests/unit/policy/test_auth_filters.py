"""Authentication and authorization filters, driven through build_route_filters."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

import jwt
import pytest

from zonegate.config.aggregate import Aggregate
from zonegate.config.policies import Consumer, Policies, RoutePolicies
from zonegate.node.context import RequestContext
from zonegate.node.filters.base import FilterChain, LocalReply
from zonegate.node.filters.policy_build import build_route_filters
from zonegate.node.filters.policy_deps import CountingPolicyObserver, PolicyDeps, PolicyState
from zonegate.node.http import Request
from zonegate.node.policy import api_keys
from zonegate.node.policy.api_keys import Scheme, generate_api_key, hash_api_key

SECRET = "k" * 48


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
    consumers: list[Consumer]
    policies: Policies
    routes: list[RouteView] = field(default_factory=list)


def _consumer(name: str, groups: list[str], scheme: Scheme = "scrypt") -> tuple[Consumer, str]:
    key_id, key = generate_api_key()
    hashed = hash_api_key(key, scheme=scheme, n=1024)
    return Consumer(name=name, groups=groups, api_keys=[{"id": key_id, "hash": hashed}]), key


@pytest.fixture(scope="module")
def people() -> dict[str, tuple[Consumer, str]]:
    """scrypt-hashed: the coroutine filter with its cache and single flight."""
    return {"alice": _consumer("alice", ["admins"]), "bob": _consumer("bob", ["staff"])}


@pytest.fixture(scope="module")
def fast_people() -> dict[str, tuple[Consumer, str]]:
    """hmac-sha256-hashed (the default): the plain-function filter."""
    return {
        "alice": _consumer("alice", ["admins"], "hmac-sha256"),
        "bob": _consumer("bob", ["staff"], "hmac-sha256"),
    }


def _chain(
    consumers: list[Consumer],
    route_policies: dict[str, Any],
    deps: PolicyDeps,
    defaults: dict[str, Any] | None = None,
) -> FilterChain:
    config = ConfigView(consumers, Policies.model_validate({"defaults": defaults or {}}))
    route = RouteView("api", RoutePolicies.model_validate(route_policies))
    return FilterChain(build_route_filters(route, config, deps))


def _req(headers: list[tuple[bytes, bytes]], query: str = "") -> Request:
    return Request("GET", "/api", query, [(b"host", b"gw"), *headers], client_ip="192.0.2.1")


async def _run(chain: FilterChain, req: Request) -> tuple[LocalReply | None, RequestContext]:
    ctx = RequestContext("rid-1")
    ctx.route = "api"
    return await chain.on_request(ctx, req), ctx


@pytest.mark.parametrize("hashes", ["fast_people", "people"])
async def test_api_key_paths(
    hashes: str, request: pytest.FixtureRequest, caplog: pytest.LogCaptureFixture
) -> None:
    people: dict[str, tuple[Consumer, str]] = request.getfixturevalue(hashes)
    caplog.set_level(logging.INFO, logger="zonegate.auth")
    observer = CountingPolicyObserver()
    deps = PolicyDeps(observer=observer)
    alice, alice_key = people["alice"]
    chain = _chain([alice], {"auth": {"type": "api_key"}}, deps)
    # hmac-sha256 keys verify inline: the chain can run on the node's callback fast path
    assert chain.all_sync is (hashes == "fast_people")

    reply, _ = await _run(chain, _req([]))
    assert reply is not None and reply.status == 401 and reply.code == "unauthenticated"
    assert reply.headers == [(b"www-authenticate", b'ApiKey realm="zonegate"')]

    wrong = alice_key[:-2] + ("AA" if not alice_key.endswith("AA") else "BB")
    for presented, reason in [("garbage", "malformed_key"), (wrong, "wrong_secret")]:
        reply, _ = await _run(chain, _req([(b"x-api-key", presented.encode())]))
        assert reply is not None and reply.status == 401
        assert any(getattr(r, "reason", None) == reason for r in caplog.records)
    _, unknown = generate_api_key()
    reply, _ = await _run(chain, _req([(b"x-api-key", unknown.encode())]))
    assert reply is not None and reply.status == 401

    req = _req([(b"x-api-key", alice_key.encode()), (b"x-consumer-name", b"root")])
    reply, ctx = await _run(chain, req)
    assert reply is None and ctx.consumer == "alice"
    assert req.header(b"x-api-key") is None  # not forwarded by default
    assert [v for k, v in req.headers if k == b"x-consumer-name"] == [b"alice"]

    log_text = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert alice_key not in log_text and alice_key[20:] not in log_text
    assert wrong[20:] not in log_text and unknown[20:] not in log_text
    assert observer.auth_failures[("api", "api_key", "missing_credentials")] == 1
    assert observer.auth_failures[("api", "api_key", "wrong_secret")] == 1


async def test_verified_key_cached_across_snapshots_and_revocation_immediate(
    people: dict[str, tuple[Consumer, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = []
    real_verify = api_keys.StoredHash.verify

    def counting(self: api_keys.StoredHash, presented: str) -> bool:
        calls.append(1)
        return real_verify(self, presented)

    monkeypatch.setattr(api_keys.StoredHash, "verify", counting)
    alice, key = people["alice"]
    bob, bob_key = people["bob"]
    deps = PolicyDeps(state=PolicyState())
    chain = _chain([alice, bob], {"auth": {"type": "api_key"}}, deps)
    for _ in range(5):
        reply, _ = await _run(chain, _req([(b"x-api-key", key.encode())]))
        assert reply is None
    assert len(calls) == 1  # one KDF, then the sha256 cache
    # a wrong key is remembered too: no KDF storm from one bad key
    for _ in range(3):
        await _run(chain, _req([(b"x-api-key", bob_key[:-1].encode() + b"x")]))
    assert len(calls) == 2

    rebuilt = _chain([alice, bob], {"auth": {"type": "api_key"}}, deps)  # new snapshot
    reply, _ = await _run(rebuilt, _req([(b"x-api-key", key.encode())]))
    assert reply is None and len(calls) == 2

    revoked = _chain([bob], {"auth": {"type": "api_key"}}, deps)
    reply, _ = await _run(revoked, _req([(b"x-api-key", key.encode())]))
    assert reply is not None and reply.status == 401


async def test_api_key_from_query_parameter_is_removed(
    people: dict[str, tuple[Consumer, str]],
) -> None:
    alice, key = people["alice"]
    chain = _chain([alice], {"auth": {"type": "api_key", "query_param": "api_key"}}, PolicyDeps())
    req = _req([], query=f"a=1&api_key={key}&b=2")
    reply, ctx = await _run(chain, req)
    assert reply is None and ctx.consumer == "alice" and req.query == "a=1&b=2"


async def test_consumer_header_dropped_even_without_auth() -> None:
    chain = _chain([], {}, PolicyDeps())
    req = _req([(b"x-consumer-name", b"admin"), (b"X-Other", b"1")])
    reply, _ = await _run(chain, req)
    assert reply is None and req.header(b"x-consumer-name") is None


def _jwt_policies() -> dict[str, Any]:
    return {
        "auth": {
            "type": "jwt",
            "algorithms": ["HS256"],
            "keys": [{"algorithm": "HS256", "secret_env": "TEST_JWT_SECRET"}],
            "issuer": "idp",
        }
    }


async def test_jwt_filter(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_JWT_SECRET", SECRET)
    chain = _chain([], _jwt_policies(), PolicyDeps())
    reply, _ = await _run(chain, _req([]))
    assert reply is not None and reply.headers == [
        (b"www-authenticate", b'Bearer realm="zonegate"')
    ]
    token = jwt.encode({"sub": "carol", "iss": "idp", "exp": 4_000_000_000}, SECRET, "HS256")
    reply, _ = await _run(chain, _req([(b"authorization", b"Basic abc")]))
    assert reply is not None and reply.status == 401
    bad = jwt.encode({"sub": "carol", "iss": "other", "exp": 4_000_000_000}, SECRET, "HS256")
    reply, _ = await _run(chain, _req([(b"authorization", f"Bearer {bad}".encode())]))
    assert reply is not None
    assert reply.headers == [
        (b"www-authenticate", b'Bearer realm="zonegate", error="invalid_token"')
    ]
    req = _req([(b"authorization", f"bearer {token}".encode())])
    reply, ctx = await _run(chain, req)
    assert reply is None and ctx.consumer == "carol"
    assert req.header(b"x-consumer-name") == b"carol" and req.header(b"authorization") is not None


@pytest.mark.parametrize(
    ("authz", "who", "status"),
    [
        ({}, "alice", None),
        ({"allow": {"groups": ["admins"]}}, "alice", None),
        ({"allow": {"groups": ["admins"]}}, "bob", 403),
        ({"allow": {"consumers": ["bob"]}}, "bob", None),
        ({"allow": {"groups": ["admins", "staff"]}, "deny": {"consumers": ["bob"]}}, "bob", 403),
        ({"deny": {"groups": ["staff"]}}, "bob", 403),
        ({"deny": {"groups": ["staff"]}}, "alice", None),
        ({"allow": {"scopes": ["write"]}}, "alice", 403),
    ],
)
async def test_authorization(
    people: dict[str, tuple[Consumer, str]], authz: dict[str, Any], who: str, status: int | None
) -> None:
    consumers = [people["alice"][0], people["bob"][0]]
    chain = _chain(consumers, {"auth": {"type": "api_key"}, "authz": authz}, PolicyDeps())
    reply, _ = await _run(chain, _req([(b"x-api-key", people[who][1].encode())]))
    if status is None:
        assert reply is None
    else:
        assert reply is not None and reply.status == 403 and reply.code == "forbidden"


async def test_defaults_apply_and_route_can_switch_auth_off(
    people: dict[str, tuple[Consumer, str]],
) -> None:
    alice, _ = people["alice"]
    defaults = {"auth": {"type": "api_key"}}
    protected = _chain([alice], {}, PolicyDeps(), defaults)
    reply, _ = await _run(protected, _req([]))
    assert reply is not None and reply.status == 401
    public = _chain([alice], {"auth": {"type": "none"}}, PolicyDeps(), defaults)
    reply, _ = await _run(public, _req([]))
    assert reply is None


async def test_burst_with_a_new_key_runs_the_kdf_once(
    people: dict[str, tuple[Consumer, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = []
    real_verify = api_keys.StoredHash.verify

    def counting(self: api_keys.StoredHash, presented: str) -> bool:
        calls.append(1)
        return real_verify(self, presented)

    monkeypatch.setattr(api_keys.StoredHash, "verify", counting)
    alice, key = people["alice"]
    deps = PolicyDeps(state=PolicyState())
    chain = _chain([alice], {"auth": {"type": "api_key"}}, deps)
    replies = await asyncio.gather(
        *(_run(chain, _req([(b"x-api-key", key.encode())])) for _ in range(20))
    )
    assert all(reply is None for reply, _ in replies)
    assert len(calls) == 1 and deps.state.pending_verifications == {}
