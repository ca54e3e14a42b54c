"""CORS: preflights answered at the gateway; allowed origins get the response headers.

Runs before authentication (a browser's preflight carries no credentials). A
preflight from an origin, method or header that is not allowed gets 403
``forbidden``; a simple request from such an origin goes on without CORS
headers (the browser then hides the answer).
"""

from __future__ import annotations

from typing import Final

from zonegate import conventions as cv
from zonegate.config.policies import Cors
from zonegate.node.context import RequestContext
from zonegate.node.filters.base import CONTINUE, FilterResult, LocalReply
from zonegate.node.http import Headers, Request, ResponseHead

CORS_ORIGIN_ATTRIBUTE: Final = "zonegate.cors.origin"
ACAO: Final = b"access-control-allow-origin"
ACAC: Final = b"access-control-allow-credentials"
ACAM: Final = b"access-control-allow-methods"
ACAH: Final = b"access-control-allow-headers"
ACEH: Final = b"access-control-expose-headers"
ACMA: Final = b"access-control-max-age"
VARY: Final = b"vary"


class CorsFilter:
    name = "cors"

    def __init__(self, cfg: Cors) -> None:
        origins = cfg.allow_origins
        self.any_origin = "*" in origins
        self.exact = frozenset(o.encode() for o in origins if "*" not in o)
        self.suffixes = tuple(
            (o.split("://", 1)[0].encode() + b"://", o.split("*", 1)[1].encode())
            for o in origins
            if o != "*" and "*" in o
        )
        self.credentials = cfg.allow_credentials
        self.methods = frozenset(m.encode() for m in cfg.allow_methods)
        self.any_header = "*" in cfg.allow_headers
        self.headers = frozenset(h.encode() for h in cfg.allow_headers if h != "*")
        self.methods_value = ", ".join(cfg.allow_methods).encode()
        self.headers_value = ", ".join(h for h in cfg.allow_headers if h != "*").encode()
        self.expose_value = ", ".join(cfg.expose_headers).encode()
        self.max_age = str(cfg.max_age_s).encode()

    def allowed(self, origin: bytes) -> bool:
        origin = origin.lower()
        if self.any_origin or origin in self.exact:
            return True
        for scheme, suffix in self.suffixes:
            if origin.startswith(scheme) and origin.endswith(suffix):
                host = origin[len(scheme) : len(origin) - len(suffix)]
                if host and b"/" not in host:
                    return True
        return False

    def _origin_headers(self, origin: bytes) -> Headers:
        if self.any_origin and not self.credentials:
            return [(ACAO, b"*")]
        out = [(ACAO, origin), (VARY, b"Origin")]
        if self.credentials:
            out.append((ACAC, b"true"))
        return out

    def on_request(self, ctx: RequestContext, req: Request) -> FilterResult:
        origin = req.header(b"origin")
        if origin is None:
            return CONTINUE
        requested = req.header(b"access-control-request-method")
        if req.method == "OPTIONS" and requested is not None:
            return self._preflight(origin, requested.strip(), req)
        if self.allowed(origin):
            ctx.set_attribute(CORS_ORIGIN_ATTRIBUTE, origin)
        return CONTINUE

    def _preflight(self, origin: bytes, method: bytes, req: Request) -> LocalReply:
        if not self.allowed(origin):
            return LocalReply(403, cv.ERR_FORBIDDEN, "CORS origin not allowed")
        if method not in self.methods:
            return LocalReply(403, cv.ERR_FORBIDDEN, "CORS method not allowed")
        asked = req.header(b"access-control-request-headers") or b""
        names = [h.strip().lower() for h in asked.split(b",") if h.strip()]
        if not self.any_header and any(n not in self.headers for n in names):
            return LocalReply(403, cv.ERR_FORBIDDEN, "CORS header not allowed")
        headers = self._origin_headers(origin)
        headers.append((ACAM, self.methods_value))
        allow_headers = b", ".join(names) if self.any_header else self.headers_value
        if allow_headers:
            headers.append((ACAH, allow_headers))
        headers.append((ACMA, self.max_age))
        if self.any_header:
            headers.append((VARY, b"Access-Control-Request-Headers"))
        return LocalReply(204, "", headers=headers, body=b"", content_type=b"text/plain")

    def on_response(self, ctx: RequestContext, resp: ResponseHead) -> None:
        attributes = ctx.attributes
        origin = attributes.get(CORS_ORIGIN_ATTRIBUTE) if attributes else None
        if not isinstance(origin, bytes):
            return
        drop = {ACAO, ACAC, ACEH}
        resp.headers[:] = [(k, v) for k, v in resp.headers if k not in drop]
        resp.headers.extend(self._origin_headers(origin))
        if self.expose_value:
            resp.headers.append((ACEH, self.expose_value))
