"""JWT verification keys: from config (PEM public keys, HS secrets from a file or env)
and from a JWKS file that is re-read when it changes.

Every key is bound to exactly one algorithm when it is loaded (RSA -> RS256, EC
P-256 -> ES256, oct -> HS256); a token is only ever verified with keys of its
own algorithm, so an HS256 token can never be checked against an RSA public key.
"""

from __future__ import annotations

import base64
import json
import logging
import os
from collections.abc import Iterable, Mapping, Sequence

from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from jwt import PyJWK
from jwt.algorithms import ECAlgorithm, RSAAlgorithm
from jwt.exceptions import PyJWTError

from zonegate.config.policies import JwtKey
from zonegate.node.policy.decision import Clock
from zonegate.node.policy.errors import PolicyBuildError

log = logging.getLogger("zonegate.auth")
MIN_HMAC_SECRET = 32
_KTY_ALGORITHM = {"RSA": "RS256", "oct": "HS256"}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _hmac_secret(key: JwtKey, environ: Mapping[str, str]) -> bytes:
    if key.secret_file is not None:
        try:
            with open(key.secret_file, "rb") as fh:
                secret = fh.read().strip()
        except OSError as exc:
            raise PolicyBuildError(
                f"cannot read HS256 secret_file {key.secret_file}: {exc.strerror or exc}"
            ) from None
    else:
        assert key.secret_env is not None
        value = environ.get(key.secret_env)
        if value is None:
            raise PolicyBuildError(f"HS256 secret_env {key.secret_env} is not set")
        secret = value.encode()
    if len(secret) < MIN_HMAC_SECRET:
        raise PolicyBuildError(f"an HS256 secret needs at least {MIN_HMAC_SECRET} bytes")
    return secret


def config_key(key: JwtKey, environ: Mapping[str, str] = os.environ) -> PyJWK:
    """One configured key, loaded and bound to its algorithm."""
    data: dict[str, str]
    if key.algorithm == "HS256":
        data = {"kty": "oct", "k": _b64(_hmac_secret(key, environ))}
    else:
        assert key.public_key_pem is not None
        try:
            public = load_pem_public_key(key.public_key_pem.encode())
        except ValueError:
            raise PolicyBuildError(f"{key.algorithm} public_key_pem is not a PEM key") from None
        if key.algorithm == "RS256":
            if not isinstance(public, rsa.RSAPublicKey):
                raise PolicyBuildError("an RS256 key must be an RSA public key")
            data = dict(RSAAlgorithm.to_jwk(public, as_dict=True))
        else:
            if not isinstance(public, ec.EllipticCurvePublicKey) or not isinstance(
                public.curve, ec.SECP256R1
            ):
                raise PolicyBuildError("an ES256 key must be an EC P-256 public key")
            data = dict(ECAlgorithm.to_jwk(public, as_dict=True))
    if key.kid is not None:
        data["kid"] = key.kid
    return PyJWK(data, algorithm=key.algorithm)


def parse_jwks(text: str, allowed: Iterable[str]) -> list[PyJWK]:
    """Usable signing keys of a JWKS document whose algorithm is allowed.

    Raises ValueError when the document is not a JWKS at all.
    """
    allowed = set(allowed)
    document = json.loads(text)
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise ValueError('a JWKS is a JSON object with a "keys" list')
    keys: list[PyJWK] = []
    for item in document["keys"]:
        if not isinstance(item, dict) or item.get("use", "sig") != "sig":
            continue
        kty = item.get("kty")
        algorithm = (
            "ES256" if kty == "EC" and item.get("crv") == "P-256" else _KTY_ALGORITHM.get(str(kty))
        )
        if algorithm is None or algorithm not in allowed:
            continue
        if item.get("alg", algorithm) != algorithm:
            log.warning(
                "jwks_key_skipped",
                extra={"event": "jwks_key_skipped", "kid": item.get("kid"), "reason": "alg_kty"},
            )
            continue
        try:
            keys.append(PyJWK(item, algorithm=algorithm))
        except PyJWTError:
            continue
    return keys


class JwksFile:
    """A JWKS file, re-read when its mtime/size change (checked at most every ``interval_s``)."""

    def __init__(
        self, path: str, allowed: Sequence[str], clock: Clock, interval_s: float = 1.0
    ) -> None:
        self.path = path
        self.allowed = tuple(allowed)
        self.clock = clock
        self.interval_s = interval_s
        self.version = 0
        self._stamp: tuple[int, int] | None = None
        self._next_check = 0.0
        self.keys: list[PyJWK] = []
        try:
            self._load(self._stat())
        except (OSError, ValueError) as exc:
            raise PolicyBuildError(f"cannot load jwks_file {path}: {exc}") from None

    def _stat(self) -> tuple[int, int]:
        st = os.stat(self.path)
        return st.st_mtime_ns, st.st_size

    def _load(self, stamp: tuple[int, int]) -> None:
        with open(self.path, encoding="utf-8") as fh:
            keys = parse_jwks(fh.read(), self.allowed)
        self.keys = keys
        self._stamp = stamp
        self.version += 1

    def current(self) -> list[PyJWK]:
        """The keys, reloading first when the file changed; a broken file keeps the old keys."""
        now = self.clock()
        if now < self._next_check:
            return self.keys
        self._next_check = now + self.interval_s
        try:
            stamp = self._stat()
        except OSError as exc:
            stamp = (-1, -1)
            error: Exception | None = exc
        else:
            error = None
        if stamp == self._stamp:
            return self.keys
        self._stamp = stamp  # a broken file is reported once, not every second
        if error is None:
            try:
                self._load(stamp)
            except (OSError, ValueError) as exc:
                error = exc
        if error is not None:
            log.error(
                "jwks_reload_failed",
                extra={"event": "jwks_reload_failed", "path": self.path, "error": str(error)},
            )
        else:
            log.info(
                "jwks_reloaded",
                extra={"event": "jwks_reloaded", "path": self.path, "keys": len(self.keys)},
            )
        return self.keys
