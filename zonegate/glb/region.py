"""Which client region a request comes from: a header, else the source address."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from zonegate.config.glb import Region


class RegionResolver:
    def __init__(self, regions: Sequence[Region], header: str, default: str | None) -> None:
        self.header = header.lower().encode()
        self.known = {r.name for r in regions}
        self.default = default or (regions[0].name if regions else "")
        self.networks = [
            (ipaddress.ip_network(cidr, strict=False), r.name) for r in regions for cidr in r.cidrs
        ]
        # Longest prefix first, so the most specific network wins.
        self.networks.sort(key=lambda item: item[0].prefixlen, reverse=True)

    def resolve(self, header_value: bytes | None, client_ip: str) -> str:
        """An unknown region in the header is ignored (not an error for the client)."""
        if header_value:
            name = header_value.decode("latin-1").strip().lower()
            if name in self.known:
                return name
        if self.networks and client_ip:
            try:
                address = ipaddress.ip_address(client_ip)
            except ValueError:
                return self.default
            for network, name in self.networks:
                if address in network:
                    return name
        return self.default
