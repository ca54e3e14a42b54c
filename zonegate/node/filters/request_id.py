"""Request id: pass a sane client-sent X-Request-Id through, otherwise make one."""

from __future__ import annotations

import re
from typing import Final

from zonegate.node.context import RequestContext
from zonegate.node.filters.base import CONTINUE, FilterResult
from zonegate.node.http import Request
from zonegate.node.random_ids import new_hex_id

_VALID: Final = re.compile(rb"[A-Za-z0-9._:-]{1,128}")


def new_request_id() -> str:
    """128 random bits as 32 hex digits."""
    return new_hex_id()


class RequestIdFilter:
    """Always the first filter: every later filter, log line and upstream sees the id."""

    name = "request_id"

    def on_request(self, ctx: RequestContext, req: Request) -> FilterResult:
        given = req.header(b"x-request-id")
        if given is not None and _VALID.fullmatch(given):
            ctx.request_id = given.decode()
        else:
            ctx.request_id = new_request_id()
        return CONTINUE
