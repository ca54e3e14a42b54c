"""API-key authentication.

Per request: find the key (header, or a query parameter when enabled), read its
public id, look up that one credential. A key seen before is recognised by
``sha256(key)`` in a bounded cache (node-lifetime, so config reloads keep it);
only a key never seen runs the salted scrypt check, in a worker thread and at
most two at a time. Revoking a key in config takes effect at once: the cache
maps to the stored hash, which must still exist.
"""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode

from zonegate.config.policies import ApiKeyAuth, Consumer
from zonegate.node.context import RequestContext
from zonegate.node.filters.auth_common import Rejector, authenticated
from zonegate.node.filters.base import CONTINUE, FilterResult
from zonegate.node.filters.policy_deps import PolicyObserver, PolicyState
from zonegate.node.http import Request
from zonegate.node.policy.api_keys import StoredHash, cache_digest, key_id_of
from zonegate.node.policy.identity import Identity


@dataclass(frozen=True, slots=True)
class Credential:
    hash_text: str
    stored: StoredHash
    identity: Identity


def credentials_by_id(consumers: Sequence[Consumer]) -> dict[str, Credential]:
    """key id -> credential of every consumer (parsed once per config snapshot)."""
    out: dict[str, Credential] = {}
    for consumer in consumers:
        identity = Identity(consumer.name, frozenset(consumer.groups), frozenset(), "api_key")
        for key in consumer.api_keys:
            out[key.id] = Credential(key.hash, StoredHash.parse(key.hash), identity)
    return out


class ApiKeyAuthFilter:
    name = "auth_api_key"

    def __init__(
        self,
        cfg: ApiKeyAuth,
        credentials: dict[str, Credential],
        state: PolicyState,
        observer: PolicyObserver,
    ) -> None:
        self.header = cfg.header.encode("latin-1")
        self.query_param = cfg.query_param
        self.forward = cfg.forward
        self.credentials = credentials
        self.state = state
        self.rejector = Rejector("api_key", "ApiKey", cfg.realm, observer)

    async def on_request(self, ctx: RequestContext, req: Request) -> FilterResult:
        presented = self._take_key(req)
        if not presented:
            return self.rejector.reject(ctx, "missing_credentials")
        key_id = key_id_of(presented)
        if key_id is None:
            return self.rejector.reject(ctx, "malformed_key")
        credential = self.credentials.get(key_id)
        if credential is None:
            return self.rejector.reject(ctx, "unknown_key", key_id=key_id)
        digest = cache_digest(presented)
        state = self.state
        cached = state.verified_keys.get(digest)
        if cached is None or not hmac.compare_digest(cached, credential.hash_text):
            if state.failed_keys.get(digest) == credential.hash_text:
                return self.rejector.reject(ctx, "wrong_secret", key_id=key_id)
            async with state.kdf_slots():
                ok = await asyncio.to_thread(credential.stored.verify, presented)
            if not ok:
                state.failed_keys.put(digest, credential.hash_text)
                return self.rejector.reject(ctx, "wrong_secret", key_id=key_id)
            state.verified_keys.put(digest, credential.hash_text)
        authenticated(ctx, req, credential.identity)
        return CONTINUE

    def _take_key(self, req: Request) -> str:
        """The presented key; removed from the request unless ``forward``."""
        name = self.header
        for key, value in req.headers:
            if key == name:
                if not self.forward:
                    req.headers[:] = [(k, v) for k, v in req.headers if k != name]
                return value.decode("latin-1").strip()
        if self.query_param is None or not req.query:
            return ""
        pairs = parse_qsl(req.query, keep_blank_values=True)
        found = next((v for k, v in pairs if k == self.query_param), "")
        if found and not self.forward:
            req.query = urlencode([(k, v) for k, v in pairs if k != self.query_param])
        return found.strip()
