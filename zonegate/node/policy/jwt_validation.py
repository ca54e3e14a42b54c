"""JWT validation over PyJWT: signature by PyJWT, every claim check here (injected clock).

``alg`` must be one of the configured algorithms (so ``none`` never is) and the
token is only verified with keys bound to that algorithm. ``exp``/``nbf`` are
checked with leeway against the injected wall clock, ``iss`` and ``aud`` against
the config. Claims map to an :class:`Identity`. Valid tokens are cached (bounded)
so a repeated token costs a dict lookup plus the time checks, not a signature.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import jwt
from jwt import PyJWK
from jwt.exceptions import DecodeError, InvalidKeyError, InvalidSignatureError, PyJWTError

from zonegate.config.policies import JwtAuth
from zonegate.node.policy.decision import Clock
from zonegate.node.policy.errors import Unauthenticated
from zonegate.node.policy.identity import Identity
from zonegate.node.policy.jwt_keys import JwksFile
from zonegate.node.policy.lru import BoundedLRU

MAX_TOKEN_BYTES = 16384
MAX_CONSUMER_LENGTH = 256
_DECODE_OPTIONS: Any = {
    "verify_signature": True,
    "verify_exp": False,
    "verify_nbf": False,
    "verify_iat": False,
    "verify_aud": False,
    "verify_iss": False,
    "verify_sub": False,
    "verify_jti": False,
    "require": [],
    "enforce_minimum_key_length": True,
}
CachedToken = tuple[Identity, float | None, float | None]


def _numeric(payload: Mapping[str, Any], claim: str) -> float | None:
    value = payload.get(claim)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise Unauthenticated(f"invalid_claim:{claim}")
    return float(value)


def _strings(value: Any, claim: str) -> frozenset[str]:
    if value is None:
        return frozenset()
    if isinstance(value, str):
        return frozenset(value.split())
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return frozenset(value)
    raise Unauthenticated(f"invalid_claim:{claim}")


def _header_safe(value: str) -> bool:
    return 0 < len(value) <= MAX_CONSUMER_LENGTH and all(33 <= ord(c) <= 126 for c in value)


class JwtValidator:
    """Validates bearer tokens for one ``jwt`` auth config."""

    def __init__(
        self,
        cfg: JwtAuth,
        static_keys: Sequence[PyJWK],
        jwks: JwksFile | None,
        consumer_groups: Mapping[str, frozenset[str]],
        clock: Clock,
    ) -> None:
        self.cfg = cfg
        self.algorithms = frozenset(cfg.algorithms)
        self.static_keys = list(static_keys)
        self.jwks = jwks
        self.consumer_groups = consumer_groups
        self.clock = clock
        self.leeway = cfg.leeway_s
        self.audiences = frozenset(cfg.audiences)
        self.cache: BoundedLRU[str, CachedToken] = BoundedLRU(cfg.cache_size)
        self._jwks_version = jwks.version if jwks is not None else 0

    def validate(self, token: str) -> Identity:
        """The identity of a valid token; raises :class:`Unauthenticated` with the reason."""
        jwks = self.jwks
        if jwks is not None:
            jwks.current()
            if jwks.version != self._jwks_version:  # keys changed: trust nothing cached
                self._jwks_version = jwks.version
                self.cache.clear()
        cached = self.cache.get(token)
        if cached is not None:
            identity, exp, nbf = cached
            self._check_times(exp, nbf)
            return identity
        payload = self._verified_payload(token)
        exp = _numeric(payload, "exp")
        nbf = _numeric(payload, "nbf")
        self._check_times(exp, nbf)
        identity = self._identity(payload)
        self.cache.put(token, (identity, exp, nbf))
        return identity

    def _check_times(self, exp: float | None, nbf: float | None) -> None:
        now = self.clock()
        if exp is not None and now > exp + self.leeway:
            raise Unauthenticated("expired")
        if nbf is not None and now < nbf - self.leeway:
            raise Unauthenticated("not_yet_valid")

    def _keys_for(self, alg: str, kid: str | None) -> list[PyJWK]:
        keys = self.static_keys + (self.jwks.keys if self.jwks is not None else [])
        return [
            k
            for k in keys
            if k.algorithm_name == alg and (kid is None or k.key_id is None or k.key_id == kid)
        ]

    def _verified_payload(self, token: str) -> dict[str, Any]:
        if len(token) > MAX_TOKEN_BYTES or token.count(".") != 2:
            raise Unauthenticated("malformed_token")
        try:
            header = jwt.get_unverified_header(token)
        except PyJWTError:
            raise Unauthenticated("malformed_token") from None
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in self.algorithms:
            raise Unauthenticated("alg_not_allowed")
        kid = header.get("kid")
        keys = self._keys_for(alg, kid if isinstance(kid, str) else None)
        if not keys:
            raise Unauthenticated("unknown_key")
        for key in keys:
            try:
                decoded = jwt.decode_complete(
                    token, key=key, algorithms=[alg], options=_DECODE_OPTIONS
                )
            except InvalidSignatureError:
                continue
            except InvalidKeyError:
                continue
            except DecodeError:
                raise Unauthenticated("malformed_token") from None
            except PyJWTError:
                raise Unauthenticated("invalid_token") from None
            payload = decoded["payload"]
            if not isinstance(payload, dict):
                raise Unauthenticated("malformed_token")
            return payload
        raise Unauthenticated("bad_signature")

    def _identity(self, payload: Mapping[str, Any]) -> Identity:
        cfg = self.cfg
        for claim in cfg.required_claims:
            if claim not in payload:
                raise Unauthenticated(f"missing_claim:{claim}")
        if cfg.issuer is not None and payload.get("iss") != cfg.issuer:
            raise Unauthenticated("wrong_issuer")
        if self.audiences:
            aud = payload.get("aud")
            given = {aud} if isinstance(aud, str) else set(aud) if isinstance(aud, list) else set()
            if given.isdisjoint(self.audiences):
                raise Unauthenticated("wrong_audience")
        consumer = payload.get(cfg.consumer_claim)
        if consumer is None:
            raise Unauthenticated(f"missing_claim:{cfg.consumer_claim}")
        if not isinstance(consumer, str) or not _header_safe(consumer):
            raise Unauthenticated(f"invalid_claim:{cfg.consumer_claim}")
        declared = self.consumer_groups.get(consumer)
        if declared is None and cfg.known_consumers_only:
            raise Unauthenticated("unknown_consumer")
        groups = _strings(payload.get(cfg.groups_claim), "groups") if cfg.groups_claim else None
        scopes = _strings(payload.get(cfg.scopes_claim), "scopes") if cfg.scopes_claim else None
        return Identity(
            consumer=consumer,
            groups=(groups or frozenset()) | (declared or frozenset()),
            scopes=scopes or frozenset(),
            method="jwt",
        )
