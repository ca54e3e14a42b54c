"""API keys: generation, salted hashes, constant-time verification.

A key reads ``zg_<id>_<secret>``: ``id`` (16 hex digits) is public and picks the
one stored hash to check (an unknown id costs nothing); the secret is 32 random
bytes (base64url). Two stored forms (base64url, no padding):

``hmac-sha256$<salt>$<digest>`` (default)
    HMAC-SHA256 keyed with a random 16-byte salt. A key has 256 bits of
    entropy, so stretching adds nothing against brute force (the reason
    password KDFs exist); verification takes about a microsecond and runs
    inline, which keeps the request on the node's callback fast path.
``scrypt$<n>$<r>$<p>$<salt>$<digest>``
    For operators whose policy demands a KDF. Verification takes
    milliseconds, so the filter runs it in a worker thread, once per key
    (single flight), and caches ``blake2s(key)`` afterwards.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Final, Literal

from zonegate.node.policy.errors import CredentialFormatError

KEY_PREFIX: Final = "zg_"
DEFAULT_N: Final = 1 << 14
DEFAULT_R: Final = 8
DEFAULT_P: Final = 1
MAX_MEMORY: Final = 256 * 1024 * 1024
Scheme = Literal["hmac-sha256", "scrypt"]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)


def generate_api_key() -> tuple[str, str]:
    """A new ``(key id, full key)``."""
    key_id = secrets.token_hex(8)
    return key_id, f"{KEY_PREFIX}{key_id}_{_b64(secrets.token_bytes(32))}"


_HEX: Final = b"0123456789abcdef"
_B64URL: Final = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def key_id_of(presented: str) -> str | None:
    """The id of a well-formed key (``zg_<16 hex>_<43 base64url>``), or None.

    ``bytes.translate`` deleting the allowed characters instead of a regex:
    this runs on every request.
    """
    if len(presented) != 63 or not presented.startswith(KEY_PREFIX) or presented[19] != "_":
        return None
    raw = presented.encode("latin-1", "replace")  # anything else becomes "?": refused
    if raw[3:19].translate(None, _HEX) or raw[20:].translate(None, _B64URL):
        return None
    return presented[3:19]


@dataclass(frozen=True, slots=True)
class StoredHash:
    scheme: Scheme
    salt: bytes
    digest: bytes
    n: int = 0
    r: int = 0
    p: int = 0

    @property
    def slow(self) -> bool:
        """True for a KDF that must not run on the event loop."""
        return self.scheme == "scrypt"

    @classmethod
    def parse(cls, text: str) -> StoredHash:
        parts = text.split("$")
        if parts[0] == "hmac-sha256" and len(parts) == 3:
            salt, digest = _decode(parts[1]), _decode(parts[2])
            if len(salt) < 16 or len(digest) != 32:
                raise CredentialFormatError("api key hash has a too short salt or digest")
            return cls("hmac-sha256", salt, digest)
        if parts[0] != "scrypt" or len(parts) != 6:
            raise CredentialFormatError(
                "api key hash must be hmac-sha256$salt$digest or scrypt$n$r$p$salt$digest"
            )
        try:
            n, r, p = int(parts[1]), int(parts[2]), int(parts[3])
        except ValueError:
            raise CredentialFormatError("api key hash has a malformed field") from None
        salt, digest = _decode(parts[4]), _decode(parts[5])
        if n < 2 or n & (n - 1) or not 1 <= r <= 32 or not 1 <= p <= 16:
            raise CredentialFormatError("api key hash has invalid scrypt parameters")
        if 128 * n * r * p > MAX_MEMORY:
            raise CredentialFormatError("api key hash needs too much memory to verify")
        if len(salt) < 16 or len(digest) < 16:
            raise CredentialFormatError("api key hash has a too short salt or digest")
        return cls("scrypt", salt, digest, n, r, p)

    def verify(self, presented: str) -> bool:
        """Constant-time check; a microsecond for hmac-sha256, milliseconds for scrypt."""
        key = presented.encode()
        if self.scheme == "hmac-sha256":
            derived = hmac.digest(self.salt, key, "sha256")
        else:
            derived = _scrypt(key, self.salt, self.n, self.r, self.p, len(self.digest))
        return hmac.compare_digest(derived, self.digest)


def _decode(text: str) -> bytes:
    try:
        return _unb64(text)
    except ValueError:
        raise CredentialFormatError("api key hash has a malformed field") from None


def _scrypt(key: bytes, salt: bytes, n: int, r: int, p: int, length: int) -> bytes:
    return hashlib.scrypt(key, salt=salt, n=n, r=r, p=p, maxmem=MAX_MEMORY + 1024, dklen=length)


def hash_api_key(
    key: str,
    *,
    scheme: Scheme = "hmac-sha256",
    n: int = DEFAULT_N,
    r: int = DEFAULT_R,
    p: int = DEFAULT_P,
    salt: bytes | None = None,
) -> str:
    """The stored form of ``key`` (a fresh random salt unless one is given)."""
    salt = salt if salt is not None else secrets.token_bytes(16)
    if scheme == "hmac-sha256":
        return f"hmac-sha256${_b64(salt)}${_b64(hmac.digest(salt, key.encode(), 'sha256'))}"
    digest = _scrypt(key.encode(), salt, n, r, p, 32)
    return f"scrypt${n}${r}${p}${_b64(salt)}${_b64(digest)}"


def cache_digest(presented: str) -> bytes:
    """What the verified-key cache is keyed by (never the key itself)."""
    return hashlib.blake2s(presented.encode()).digest()  # built in, no OpenSSL lookup per call
