"""API keys: generation, salted scrypt hashes, constant-time verification.

A key reads ``zg_<id>_<secret>``: ``id`` (16 hex digits) is public and picks the
one stored hash to check, so a wrong key costs at most one KDF run and an
unknown id none. The secret is 32 random bytes (base64url). Stored form:
``scrypt$<n>$<r>$<p>$<salt>$<hash>`` (base64url, no padding).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from zonegate.node.policy.errors import CredentialFormatError

KEY_PREFIX = "zg_"
DEFAULT_N = 1 << 14
DEFAULT_R = 8
DEFAULT_P = 1
MAX_MEMORY = 256 * 1024 * 1024
_KEY_RE = re.compile(r"^zg_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def generate_api_key() -> tuple[str, str]:
    """A new ``(key id, full key)``."""
    key_id = secrets.token_hex(8)
    return key_id, f"{KEY_PREFIX}{key_id}_{_b64(secrets.token_bytes(32))}"


def key_id_of(presented: str) -> str | None:
    """The id of a well-formed key, or None."""
    match = _KEY_RE.match(presented)
    return match.group(1) if match else None


@dataclass(frozen=True, slots=True)
class StoredHash:
    n: int
    r: int
    p: int
    salt: bytes
    digest: bytes

    @classmethod
    def parse(cls, text: str) -> StoredHash:
        parts = text.split("$")
        if len(parts) != 6 or parts[0] != "scrypt":
            raise CredentialFormatError("api key hash must be scrypt$n$r$p$salt$hash")
        try:
            n, r, p = int(parts[1]), int(parts[2]), int(parts[3])
            salt, digest = _unb64(parts[4]), _unb64(parts[5])
        except ValueError:
            raise CredentialFormatError("api key hash has a malformed field") from None
        if n < 2 or n & (n - 1) or not 1 <= r <= 32 or not 1 <= p <= 16:
            raise CredentialFormatError("api key hash has invalid scrypt parameters")
        if 128 * n * r * p > MAX_MEMORY:
            raise CredentialFormatError("api key hash needs too much memory to verify")
        if len(salt) < 16 or len(digest) < 16:
            raise CredentialFormatError("api key hash has a too short salt or digest")
        return cls(n, r, p, salt, digest)

    def verify(self, presented: str) -> bool:
        """Slow (one scrypt run, milliseconds); constant-time comparison."""
        derived = _scrypt(presented.encode(), self.salt, self.n, self.r, self.p, len(self.digest))
        return hmac.compare_digest(derived, self.digest)


def _scrypt(key: bytes, salt: bytes, n: int, r: int, p: int, length: int) -> bytes:
    return hashlib.scrypt(key, salt=salt, n=n, r=r, p=p, maxmem=MAX_MEMORY + 1024, dklen=length)


def hash_api_key(
    key: str,
    *,
    n: int = DEFAULT_N,
    r: int = DEFAULT_R,
    p: int = DEFAULT_P,
    salt: bytes | None = None,
) -> str:
    """The stored form of ``key`` (a fresh random salt unless one is given)."""
    salt = salt if salt is not None else secrets.token_bytes(16)
    digest = _scrypt(key.encode(), salt, n, r, p, 32)
    return f"scrypt${n}${r}${p}${_b64(salt)}${_b64(digest)}"


def cache_digest(presented: str) -> bytes:
    """What the verified-key cache is keyed by (never the key itself)."""
    return hashlib.sha256(presented.encode()).digest()
