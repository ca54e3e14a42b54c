"""Building the request head sent upstream and the response head sent back."""

from __future__ import annotations

from typing import Final

from zonegate import conventions as cv
from zonegate.node.http import Headers, Request

# RFC 9110 7.6.1 hop-by-hop fields, plus the framing fields we set ourselves.
HOP_BY_HOP: Final = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"content-length",
        b"expect",
    }
)
_REQUEST_DROP: Final = HOP_BY_HOP | {b"x-forwarded-proto", b"x-forwarded-host", b"x-request-id"}
_RESPONSE_DROP: Final = HOP_BY_HOP
VIA: Final = b"1.1 " + cv.VIA_TOKEN.encode()


_PLAIN_CONNECTION: Final = frozenset({b"close", b"keep-alive", b"Keep-Alive", b"Close"})


def _connection_tokens(headers: Headers) -> frozenset[bytes] | None:
    """Extra hop-by-hop names listed in the Connection header (None: there are none).

    The usual ``Connection: keep-alive`` / ``close`` costs one comparison.
    """
    tokens: set[bytes] | None = None
    for name, value in headers:
        if name == b"connection" and value not in _PLAIN_CONNECTION:
            if tokens is None:
                tokens = set()
            tokens.update(t.strip().lower() for t in value.split(b","))
    if tokens is None:
        return None
    tokens.discard(b"close")
    tokens.discard(b"keep-alive")
    return frozenset(tokens) if tokens else None


def _dropped(base: frozenset[bytes], headers: Headers) -> frozenset[bytes]:
    extra = _connection_tokens(headers)
    return base if extra is None else base | extra


def request_head(
    req: Request,
    path: str,
    request_id: str,
    *,
    body_framing: bytes,
    extra: Headers = (),  # type: ignore[assignment]
) -> bytes:
    """The upstream request head; ``body_framing`` is the content-length or TE line."""
    drop = _dropped(_REQUEST_DROP, req.headers)
    target = f"{path}?{req.query}" if req.query else path
    out = [f"{req.method} {target} HTTP/1.1\r\n".encode("latin-1")]
    xff = None
    via = None
    for name, value in req.headers:
        if name in drop:
            continue
        if name == b"x-forwarded-for":
            xff = value
            continue
        if name == b"via":
            via = value
            continue
        out += (name, b": ", value, b"\r\n")
    client = req.client_ip.encode()
    out += (b"x-forwarded-for: ", xff + b", " + client if xff else client, b"\r\n")
    out += (b"x-forwarded-proto: ", req.scheme.encode(), b"\r\n")
    if req.host:
        out += (b"x-forwarded-host: ", req.host.encode("latin-1"), b"\r\n")
    out += (b"via: ", via + b", " + VIA if via else VIA, b"\r\nx-request-id: ")
    out += (request_id.encode(), b"\r\n")
    for name, value in extra:
        out += (name, b": ", value, b"\r\n")
    out.append(body_framing)
    out.append(b"\r\n")
    return b"".join(out)


def response_head(
    status: int,
    reason_phrase: bytes,
    headers: Headers,
    *,
    framing: bytes,
    request_id: str,
    identity: tuple[bytes, ...],
    keep_alive: bool,
) -> bytes:
    """The client response head; ``framing`` is the content-length / TE line or empty."""
    out = [b"HTTP/1.1 %d %b\r\n" % (status, reason_phrase)]
    drop = _dropped(_RESPONSE_DROP, headers)
    has_request_id = False
    for name, value in headers:
        if name in drop:
            continue
        if name == b"x-request-id":
            has_request_id = True
        out += (name, b": ", value, b"\r\n")
    if not has_request_id and request_id:
        out += (b"x-request-id: ", request_id.encode(), b"\r\n")
    out.extend(identity)
    out.append(framing)
    if not keep_alive:
        out.append(b"connection: close\r\n")
    out.append(b"\r\n")
    return b"".join(out)
