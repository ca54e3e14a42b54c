"""Rate-limit keys from a request: consumer, client IP, a header's value, the route.

Parts are compiled once; per request building a key is a few attribute reads.
Header values are hashed (blake2b, 128 bit): keys stay short whatever a client
sends, and a limit keyed on a credential header never holds the credential.
IPv6 clients are keyed by their /64 (configurable), since one host owns a
whole prefix. Missing values are the empty string: anonymous requests share one
``consumer`` bucket, requests without the header share one ``header:`` bucket
(so leaving a header out never escapes a limit).
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Callable, Sequence
from typing import Final

from zonegate.node.context import RequestContext
from zonegate.node.http import Request, header_values
from zonegate.node.policy.client_ip import ClientIpResolver

KeyPartGetter = Callable[[RequestContext, Request], str]
SEPARATOR: Final = "\x1f"
_PREFIX_CACHE_LIMIT: Final = 10_000


def header_digest(value: bytes) -> str:
    return hashlib.blake2b(value, digest_size=16).hexdigest()


class ClientKey:
    """The ``ip`` part: client address (trusted-proxy aware), IPv6 folded to a prefix."""

    __slots__ = ("_prefix_cache", "ipv6_prefix", "resolver")

    def __init__(self, resolver: ClientIpResolver, ipv6_prefix: int = 64) -> None:
        self.resolver = resolver
        self.ipv6_prefix = ipv6_prefix
        self._prefix_cache: dict[str, str] = {}

    def client_ip(self, req: Request) -> str:
        if not self.resolver.enabled:
            return req.client_ip
        return self.resolver.resolve(req.client_ip, header_values(req.headers, b"x-forwarded-for"))

    def __call__(self, ctx: RequestContext, req: Request) -> str:
        ip = self.client_ip(req)
        if ":" not in ip or self.ipv6_prefix >= 128:
            return ip
        folded = self._prefix_cache.get(ip)
        if folded is None:
            try:
                folded = str(ipaddress.ip_network(f"{ip}/{self.ipv6_prefix}", strict=False))
            except ValueError:
                folded = ip
            if len(self._prefix_cache) >= _PREFIX_CACHE_LIMIT:
                self._prefix_cache.clear()
            self._prefix_cache[ip] = folded
        return folded


def _consumer(ctx: RequestContext, req: Request) -> str:
    return ctx.consumer


def _route_part(route: str) -> KeyPartGetter:
    return lambda ctx, req: route


def _header_part(name: bytes) -> KeyPartGetter:
    def get(ctx: RequestContext, req: Request) -> str:
        for key, value in req.headers:
            if key == name:
                return header_digest(value)
        return ""

    return get


def compile_key(parts: Sequence[str], route: str, client: ClientKey) -> KeyPartGetter:
    """One function ``(ctx, req) -> key`` for parts like ``["consumer", "header:x-tenant"]``."""
    getters: list[KeyPartGetter] = []
    for part in parts:
        if part == "consumer":
            getters.append(_consumer)
        elif part == "ip":
            getters.append(client)
        elif part == "route":
            getters.append(_route_part(route))
        elif part.startswith("header:"):
            getters.append(_header_part(part.partition(":")[2].lower().encode("latin-1")))
        else:
            raise ValueError(f"unknown rate limit key part {part!r}")
    if len(getters) == 1:
        return getters[0]
    frozen = tuple(getters)
    return lambda ctx, req: SEPARATOR.join([g(ctx, req) for g in frozen])
