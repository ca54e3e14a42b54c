"""Signed affinity cookies: ``<cluster>~<zone>~<node>~<signature>``.

The signature is an HMAC over the cluster name, zone and node, so a tampered
cookie, or one from another cluster, fails verification and is ignored.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass


@dataclass(frozen=True)
class Affinity:
    zone: str
    node: str = ""


class AffinityCookie:
    def __init__(self, cluster: str, key: bytes, name: str, max_age_s: int) -> None:
        self.cluster = cluster
        self.key = key
        self.name = name
        self.max_age_s = max_age_s
        self._prefix = name.encode() + b"="

    def _sign(self, zone: str, node: str) -> str:
        mac = hmac.new(self.key, f"{self.cluster}|{zone}|{node}".encode(), hashlib.sha256)
        return base64.urlsafe_b64encode(mac.digest()[:18]).decode()

    def encode(self, affinity: Affinity) -> str:
        signature = self._sign(affinity.zone, affinity.node)
        return f"{self.cluster}~{affinity.zone}~{affinity.node}~{signature}"

    def set_cookie_header(self, affinity: Affinity) -> bytes:
        return (
            f"{self.name}={self.encode(affinity)}; Path=/; Max-Age={self.max_age_s}; "
            "HttpOnly; SameSite=Lax"
        ).encode()

    def decode(self, value: str) -> Affinity | None:
        parts = value.split("~")
        if len(parts) != 4:
            return None
        cluster, zone, node, signature = parts
        if cluster != self.cluster or len(value) > 512:
            return None
        if not hmac.compare_digest(signature, self._sign(zone, node)):
            return None
        return Affinity(zone, node)

    def from_header(self, cookie_header: bytes | None) -> Affinity | None:
        """The affinity in a Cookie header, or None when absent or invalid."""
        if not cookie_header or self._prefix not in cookie_header:
            return None
        for raw in cookie_header.split(b";"):
            part = raw.strip()
            if part.startswith(self._prefix):
                return self.decode(part[len(self._prefix) :].decode("latin-1"))
        return None
