"""The plain-function API-key filter: verified keys are cached, a changed credential is not."""

from __future__ import annotations

from zonegate.config.policies import ApiKeyAuth, Consumer
from zonegate.node.context import RequestContext
from zonegate.node.filters.auth_key import ApiKeyAuthFilter, credentials_by_id
from zonegate.node.filters.base import CONTINUE, LocalReply
from zonegate.node.filters.policy_deps import CountingPolicyObserver, PolicyState
from zonegate.node.http import Request
from zonegate.node.policy.api_keys import cache_digest, generate_api_key, hash_api_key


def consumer(name: str, key_id: str, key: str) -> Consumer:
    return Consumer.model_validate(
        {"name": name, "api_keys": [{"id": key_id, "hash": hash_api_key(key)}]}
    )


def run(flt: ApiKeyAuthFilter, key: str) -> tuple[object, RequestContext, Request]:
    ctx = RequestContext("r")
    req = Request("GET", "/", "", [(b"x-api-key", key.encode()), (b"x-api-key", b"dup")])
    return flt.on_request(ctx, req), ctx, req


def test_a_verified_key_is_cached_and_removed_from_the_request() -> None:
    key_id, key = generate_api_key()
    state, observer = PolicyState(), CountingPolicyObserver()
    flt = ApiKeyAuthFilter(
        ApiKeyAuth(type="api_key"), credentials_by_id([consumer("a", key_id, key)]), state, observer
    )
    for _ in range(2):
        result, ctx, req = run(flt, key)
        assert result is CONTINUE and ctx.consumer == "a"
        assert all(name != b"x-api-key" for name, _ in req.headers)  # every copy dropped
        assert (b"x-consumer-name", b"a") in req.headers
    assert state.verified_keys.get(cache_digest(key)) is not None


def test_a_rotated_or_removed_credential_misses_the_cache() -> None:
    key_id, key = generate_api_key()
    state, observer = PolicyState(), CountingPolicyObserver()
    cfg = ApiKeyAuth(type="api_key")
    first = ApiKeyAuthFilter(cfg, credentials_by_id([consumer("a", key_id, key)]), state, observer)
    assert run(first, key)[0] is CONTINUE
    # Same id, new secret (the old key was leaked and rotated): the old key is refused.
    _, new_key = generate_api_key()
    rotated = ApiKeyAuthFilter(
        cfg, credentials_by_id([consumer("a", key_id, new_key)]), state, observer
    )
    result = run(rotated, key)[0]
    assert isinstance(result, LocalReply) and result.status == 401
    # The consumer removed from the config: unknown key.
    removed = ApiKeyAuthFilter(cfg, credentials_by_id([]), state, observer)
    result = run(removed, key)[0]
    assert isinstance(result, LocalReply) and result.status == 401
