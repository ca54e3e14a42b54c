"""Header value templates: ``"${consumer}@${zone}"`` compiled once, rendered per request.

Node-wide values (zone, node) are substituted at build time; a template with
nothing request-specific left renders to pre-encoded bytes.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Final

from zonegate.config.policies import TEMPLATE_VARIABLES
from zonegate.node.context import RequestContext
from zonegate.node.http import Request

Getter = Callable[[RequestContext, Request], str]
Rendered = Callable[[RequestContext, Request], bytes]
_VARIABLE_RE: Final = re.compile(r"\$\{([a-z_]+)\}")
_UNSAFE: Final = str.maketrans("", "", "\r\n\0")


def request_getters(client_ip: Callable[[Request], str]) -> dict[str, Getter]:
    """Per-request variables; ``client_ip`` is the trusted-proxy-aware resolver."""
    return {
        "request_id": lambda ctx, req: ctx.request_id,
        "consumer": lambda ctx, req: ctx.consumer,
        "route": lambda ctx, req: ctx.route,
        "client_ip": lambda ctx, req: client_ip(req),
        "method": lambda ctx, req: req.method,
        "path": lambda ctx, req: req.path,
        "host": lambda ctx, req: req.host,
    }


def compile_template(
    text: str, static: dict[str, str], getters: dict[str, Getter]
) -> bytes | Rendered:
    """Bytes when the value is fixed, else a function of the request."""
    parts: list[str | Getter] = []
    pos = 0
    for match in _VARIABLE_RE.finditer(text):
        name = match.group(1)
        if name not in TEMPLATE_VARIABLES:
            raise ValueError(f"unknown variable ${{{name}}}")
        parts.append(text[pos : match.start()])
        parts.append(static[name] if name in static else getters[name])
        pos = match.end()
    parts.append(text[pos:])
    if all(isinstance(p, str) for p in parts):
        return "".join(p for p in parts if isinstance(p, str)).translate(_UNSAFE).encode("latin-1")
    frozen = tuple(p for p in parts if p != "")

    def render(ctx: RequestContext, req: Request) -> bytes:
        out = "".join([p if isinstance(p, str) else p(ctx, req) for p in frozen])
        return out.translate(_UNSAFE).encode("latin-1", "replace")

    return render
