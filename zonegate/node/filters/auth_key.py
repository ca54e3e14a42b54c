"""API-key authentication.

Per request: find the key (header, or a query parameter when enabled), read its
public id, look up that one credential, verify. With ``hmac-sha256`` hashes (the
default) that is a microsecond, done inline: the filter is a plain function and
the request stays on the node's callback fast path. A key that verified once is
then recognised by ``blake2s(key)`` in the verified-key cache (cheaper still).

With ``scrypt`` hashes the filter is a coroutine: a key seen before is
recognised by ``blake2s(key)`` in a bounded node-lifetime cache (config reloads
keep it); a key never seen runs scrypt in a worker thread, at most two at a
time and once however many requests bring it (single flight). Revoking a key
takes effect at once: the cache maps to the stored hash, which must still exist.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode

from zonegate.config.policies import ApiKeyAuth, Consumer
from zonegate.node.context import RequestContext
from zonegate.node.filters.auth_common import Rejector, authenticated
from zonegate.node.filters.base import CONTINUE, FilterResult, LocalReply
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


Prepared = tuple[str, Credential]
"""(presented key, its credential)"""


class _ApiKeyBase:
    """Finding the key and its credential; the subclasses verify."""

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

    def _prepare(self, ctx: RequestContext, req: Request) -> Prepared | LocalReply:
        return self._check(ctx, self._take_key(req))

    def _check(self, ctx: RequestContext, presented: str) -> Prepared | LocalReply:
        if not presented:
            return self.rejector.reject(ctx, "missing_credentials")
        key_id = key_id_of(presented)
        if key_id is None:
            return self.rejector.reject(ctx, "malformed_key")
        credential = self.credentials.get(key_id)
        if credential is None:
            return self.rejector.reject(ctx, "unknown_key", key_id=key_id)
        return presented, credential

    def _take_key(self, req: Request) -> str:
        """The presented key; removed from the request unless ``forward``."""
        name = self.header
        headers = req.headers
        for i, (key, value) in enumerate(headers):
            if key == name:
                if not self.forward:
                    del headers[i]
                    if any(k == name for k, _ in headers):  # a second copy goes too
                        headers[:] = [(k, v) for k, v in headers if k != name]
                return value.decode("latin-1").strip()
        if self.query_param is None or not req.query:
            return ""
        pairs = parse_qsl(req.query, keep_blank_values=True)
        found = next((v for k, v in pairs if k == self.query_param), "")
        if found and not self.forward:
            req.query = urlencode([(k, v) for k, v in pairs if k != self.query_param])
        return found.strip()


class ApiKeyAuthFilter(_ApiKeyBase):
    """For credentials that verify fast (all hmac-sha256): a plain function."""

    def on_request(self, ctx: RequestContext, req: Request) -> FilterResult:
        # A key seen before: blake2s + a cache hit, ~4x cheaper than parsing and HMAC
        # through OpenSSL 3. Only verified keys are cached, and the credential must still
        # carry the hash the key verified against (a revoked key misses).
        presented = self._take_key(req)
        digest = cache_digest(presented)
        verified = self.state.verified_keys
        cached = verified.get(digest)
        if cached is not None:
            credential = self.credentials.get(presented[3:19])
            if credential is not None and credential.hash_text == cached:
                authenticated(ctx, req, credential.identity)
                return CONTINUE
        found = self._check(ctx, presented)
        if isinstance(found, LocalReply):
            return found
        presented, credential = found
        if not credential.stored.verify(presented):
            return self.rejector.reject(ctx, "wrong_secret", key_id=presented[3:19])
        verified.put(digest, credential.hash_text)
        authenticated(ctx, req, credential.identity)
        return CONTINUE


class KdfApiKeyAuthFilter(_ApiKeyBase):
    """For configs with scrypt credentials: a coroutine (the KDF runs off the loop)."""

    async def on_request(self, ctx: RequestContext, req: Request) -> FilterResult:
        found = self._prepare(ctx, req)
        if isinstance(found, LocalReply):
            return found
        presented, credential = found
        if credential.stored.slow:
            ok = await self._verify_slow(presented, credential)
        else:
            ok = credential.stored.verify(presented)
        if not ok:
            return self.rejector.reject(ctx, "wrong_secret", key_id=presented[3:19])
        authenticated(ctx, req, credential.identity)
        return CONTINUE

    async def _verify_slow(self, presented: str, credential: Credential) -> bool:
        digest = cache_digest(presented)
        state = self.state
        if state.verified_keys.get(digest) == credential.hash_text:
            return True
        if state.failed_keys.get(digest) == credential.hash_text:
            return False
        pending = state.pending_verifications
        flight = (digest, credential.hash_text)
        task = pending.get(flight)
        if task is None:
            task = asyncio.ensure_future(self._kdf(digest, credential, presented))
            pending[flight] = task
            task.add_done_callback(lambda _: pending.pop(flight, None))
        # shielded: a client that goes away does not cancel the others' verification
        return await asyncio.shield(task)

    async def _kdf(self, digest: bytes, credential: Credential, presented: str) -> bool:
        state = self.state
        async with state.kdf_slots():
            ok = await asyncio.to_thread(credential.stored.verify, presented)
        if ok:
            state.verified_keys.put(digest, credential.hash_text)
        else:
            state.failed_keys.put(digest, credential.hash_text)
        return ok
