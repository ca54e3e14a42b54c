"""Plain data types of the hot path: a parsed request head and a response head.

Header names are kept lower-cased (as Envoy does) as ``bytes``; values are the
raw bytes from the wire. Lookups scan a short list, which is cheaper than
building a dict for the ~10 headers a request carries.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

Headers = list[tuple[bytes, bytes]]

IDEMPOTENT_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})


def header_value(headers: Headers, name: bytes) -> bytes | None:
    """First value of ``name`` (lower-case) or None."""
    for key, value in headers:
        if key == name:
            return value
    return None


def header_values(headers: Headers, name: bytes) -> list[bytes]:
    return [value for key, value in headers if key == name]


def remove_headers(headers: Headers, names: Iterable[bytes]) -> Headers:
    drop = set(names)
    return [(k, v) for k, v in headers if k not in drop]


def set_header(headers: Headers, name: bytes, value: bytes) -> None:
    """Replace every ``name`` header by one with ``value`` (in place)."""
    headers[:] = [(k, v) for k, v in headers if k != name]
    headers.append((name, value))


class Request:
    """A request head as the node received it (body streams separately)."""

    __slots__ = ("client_ip", "headers", "host", "method", "path", "query", "scheme", "version")

    def __init__(
        self,
        method: str,
        path: str,
        query: str,
        headers: Headers,
        *,
        version: str = "1.1",
        client_ip: str = "",
        scheme: str = "http",
    ) -> None:
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.version = version
        self.client_ip = client_ip
        self.scheme = scheme
        host = header_value(headers, b"host")
        self.host = host.decode("latin-1").lower() if host else ""

    def header(self, name: bytes) -> bytes | None:
        return header_value(self.headers, name)

    @property
    def target(self) -> str:
        return f"{self.path}?{self.query}" if self.query else self.path

    @property
    def idempotent(self) -> bool:
        return self.method in IDEMPOTENT_METHODS


class ResponseHead:
    """Status and headers of a response on its way back to the client."""

    __slots__ = ("headers", "reason", "status")

    def __init__(self, status: int, headers: Headers, reason: bytes = b"") -> None:
        self.status = status
        self.headers = headers
        self.reason = reason

    def header(self, name: bytes) -> bytes | None:
        return header_value(self.headers, name)
