"""401 / 403 paths over real sockets, consumer header handling, and keys never leaking."""

from __future__ import annotations

import json
import logging
from typing import Any

import aiohttp
import jwt
import pytest

from zonegate.config.policies import Consumer
from zonegate.node.context import RequestContext
from zonegate.node.http import Request
from zonegate.node.observer import RequestObserver
from zonegate.node.policy.api_keys import Scheme, generate_api_key, hash_api_key
from zonegate.testing.gateway import simple_config

SECRET = "integration-secret-" + "x" * 32


def consumer(name: str, groups: list[str], scheme: Scheme = "hmac-sha256") -> tuple[Consumer, str]:
    key_id, key = generate_api_key()
    data = {
        "name": name,
        "groups": groups,
        "api_keys": [{"id": key_id, "hash": hash_api_key(key, scheme=scheme)}],
    }
    return Consumer.model_validate(data), key


class AccessLogLike(RequestObserver):
    """Records what an access log would: the final request line, headers and context."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def request_finished(self, ctx: RequestContext, req: Request) -> None:
        names = [n for n in dir(ctx) if not n.startswith("_")]
        fields = {n: repr(getattr(ctx, n)) for n in names if not callable(getattr(ctx, n))}
        self.lines.append(
            json.dumps({"target": req.target, "headers": repr(req.headers), **fields})
        )


@pytest.mark.parametrize("scheme", ["hmac-sha256", "scrypt"])
async def test_api_key_401_403_and_success(
    scheme: Scheme, policy_gateway: Any, backends: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """hmac-sha256: plain-function filters, the engine's callback fast path;
    scrypt (default cost): the coroutine path with the KDF in a worker thread."""
    caplog.set_level(logging.DEBUG)
    backend = await backends("b1")
    alice, alice_key = consumer("alice", ["admins"], scheme)
    bob, bob_key = consumer("bob", ["staff"])
    access = AccessLogLike()
    gw = await policy_gateway(
        simple_config(backend.address),
        consumers=[alice, bob],
        route_policies={
            "all": {
                "auth": {"type": "api_key", "query_param": "api_key"},
                "authz": {"allow": {"groups": ["admins"]}},
            }
        },
        observer=access,
    )
    assert gw.node.snapshot.chains["all"].all_sync is (scheme == "hmac-sha256")
    wrong = alice_key[:-3] + ("abc" if not alice_key.endswith("abc") else "xyz")
    async with aiohttp.ClientSession() as session:
        async with session.get(gw.url("/echo")) as resp:
            assert resp.status == 401
            assert resp.headers["WWW-Authenticate"] == 'ApiKey realm="zonegate"'
            body = await resp.json()
            assert body["error"]["code"] == "unauthenticated"
            assert body["error"]["request_id"] == resp.headers["X-Request-Id"]
            assert resp.headers["X-Zonegate-Zone"] == "zone-a"
        async with session.get(gw.url("/echo"), headers={"X-API-Key": wrong}) as resp:
            assert resp.status == 401
            assert (await resp.json())["error"]["message"] == "authentication required"
        async with session.get(gw.url(f"/echo?api_key={wrong}")) as resp:
            assert resp.status == 401
        async with session.get(gw.url("/echo"), headers={"X-API-Key": bob_key}) as resp:
            assert resp.status == 403
            assert (await resp.json())["error"]["code"] == "forbidden"
        assert backend.state.hits == 0
        headers = {"X-API-Key": alice_key, "X-Consumer-Name": "root"}
        for _ in range(3):
            async with session.get(gw.url("/echo?x=1"), headers=headers) as resp:
                assert resp.status == 200
                seen = {k.lower(): v for k, v in (await resp.json())["headers"].items()}
        async with session.get(gw.url(f"/echo?x=2&api_key={alice_key}")) as resp:
            assert resp.status == 200
            data = await resp.json()
    assert seen["x-consumer-name"] == "alice"  # the forged copy was dropped
    assert "x-api-key" not in seen
    assert data["query"] == "x=2"  # the key is not passed upstream in the query either
    assert backend.state.hits == 4

    # keys never appear in logs, metrics/counters, or what an access log would write
    outputs = [
        "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records),
        "\n".join(access.lines),
        repr(gw.observer.auth_failures),
        metrics := gw.metrics_text(),
        repr(gw.deps.state.verified_keys._data),
        alice.model_dump_json() + bob.model_dump_json(),
    ]
    for secret in (alice_key, bob_key, wrong):
        for text in outputs:
            assert secret not in text and secret[20:] not in text
    assert gw.observer.auth_failures[("all", "api_key", "wrong_secret")] == 2
    assert gw.observer.auth_failures[("all", "authz", "not_allowed")] == 1
    assert any(getattr(r, "reason", "") == "wrong_secret" for r in caplog.records)
    assert (
        'zonegate_auth_failures_total{method="api_key",node="node-1",reason="wrong_secret",'
        'route="all",zone="zone-a"} 2.0'
    ) in metrics


async def test_jwt_401_paths(
    policy_gateway: Any, backends: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ZG_TEST_JWT", SECRET)
    backend = await backends()
    gw = await policy_gateway(
        simple_config(backend.address),
        route_policies={
            "all": {
                "auth": {
                    "type": "jwt",
                    "algorithms": ["HS256"],
                    "keys": [{"algorithm": "HS256", "secret_env": "ZG_TEST_JWT"}],
                    "audiences": ["api"],
                },
                "authz": {"allow": {"scopes": ["orders:read"]}},
            }
        },
    )
    good = jwt.encode(
        {"sub": "svc-a", "aud": "api", "exp": 4_000_000_000, "scope": "orders:read"},
        SECRET,
        "HS256",
    )
    no_scope = jwt.encode({"sub": "svc-b", "aud": "api", "exp": 4_000_000_000}, SECRET, "HS256")
    expired = jwt.encode({"sub": "svc-a", "aud": "api", "exp": 1_000}, SECRET, "HS256")
    async with aiohttp.ClientSession() as session:
        async with session.get(gw.url("/echo")) as resp:
            assert (
                resp.status == 401 and resp.headers["WWW-Authenticate"] == 'Bearer realm="zonegate"'
            )
        async with session.get(
            gw.url("/echo"), headers={"Authorization": f"Bearer {expired}"}
        ) as resp:
            assert resp.status == 401
            assert (
                resp.headers["WWW-Authenticate"] == 'Bearer realm="zonegate", error="invalid_token"'
            )
            assert (await resp.json())["error"]["code"] == "unauthenticated"
        async with session.get(
            gw.url("/echo"), headers={"Authorization": f"Bearer {no_scope}"}
        ) as resp:
            assert resp.status == 403
        async with session.get(
            gw.url("/echo"), headers={"Authorization": f"Bearer {good}"}
        ) as resp:
            assert resp.status == 200
            seen = {k.lower(): v for k, v in (await resp.json())["headers"].items()}
    assert seen["x-consumer-name"] == "svc-a"
    assert seen["authorization"] == f"Bearer {good}"  # forwarded by default for JWTs
    assert gw.observer.auth_failures[("all", "jwt", "expired")] == 1
