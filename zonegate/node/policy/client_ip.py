"""The client's IP address, believing X-Forwarded-For only from trusted proxies.

Walk the X-Forwarded-For list from the right (the hop closest to us); skip
addresses of trusted proxies; the first untrusted one is the client. Anything a
client writes itself sits left of that and is ignored. A malformed entry stops
the walk at the last trusted hop, which is then taken as the client.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import Final

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
_CACHE_LIMIT: Final = 10_000


def canonical_ip(text: str) -> str | None:
    """``'::ffff:10.0.0.1'`` -> ``'10.0.0.1'``; ``'[::1]:80'``/``'1.2.3.4:5'`` -> the address."""
    text = text.strip()
    if text.startswith("["):
        text = text[1 : text.find("]")] if "]" in text else ""
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(address)


class ClientIpResolver:
    __slots__ = ("_networks", "_trusted_cache")

    def __init__(self, trusted_proxies: Sequence[str]) -> None:
        self._networks: tuple[IpNetwork, ...] = tuple(
            ipaddress.ip_network(cidr, strict=False) for cidr in trusted_proxies
        )
        self._trusted_cache: dict[str, bool] = {}

    @property
    def enabled(self) -> bool:
        return bool(self._networks)

    def is_trusted(self, ip: str) -> bool:
        cached = self._trusted_cache.get(ip)
        if cached is not None:
            return cached
        try:
            address = ipaddress.ip_address(ip)
        except ValueError:
            trusted = False
        else:
            if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
                address = address.ipv4_mapped
            trusted = any(address in net for net in self._networks)
        if len(self._trusted_cache) >= _CACHE_LIMIT:
            self._trusted_cache.clear()
        self._trusted_cache[ip] = trusted
        return trusted

    def resolve(self, peer: str, forwarded_for: Sequence[bytes]) -> str:
        """The client address for a connection from ``peer`` with these XFF header values."""
        if not self._networks or not forwarded_for or not self.is_trusted(peer):
            return peer
        entries: list[str] = []
        for value in forwarded_for:
            entries.extend(value.decode("latin-1").split(","))
        client = peer
        for entry in reversed(entries):
            ip = canonical_ip(entry)
            if ip is None:
                return client
            client = ip
            if not self.is_trusted(ip):
                return ip
        return client
