"""What every authentication filter shares: the 401 answer, the failure log, the
consumer header, and the identity in the request context."""

from __future__ import annotations

import logging
from typing import Final

from zonegate import conventions as cv
from zonegate.node.context import RequestContext
from zonegate.node.filters.base import CONTINUE, FilterResult, LocalReply
from zonegate.node.filters.policy_deps import PolicyObserver
from zonegate.node.http import Request
from zonegate.node.policy.identity import IDENTITY_ATTRIBUTE, Identity

log = logging.getLogger("zonegate.auth")
CONSUMER_HEADER: Final = cv.HEADER_CONSUMER.encode()
WWW_AUTHENTICATE: Final = cv.HEADER_WWW_AUTHENTICATE.encode()


class ConsumerHeaderFilter:
    """Drops every client-sent X-Consumer-Name; only an auth filter may set it."""

    name = "consumer_header"

    def on_request(self, ctx: RequestContext, req: Request) -> FilterResult:
        headers = req.headers
        for key, _ in headers:
            if key == CONSUMER_HEADER:
                headers[:] = [(k, v) for k, v in headers if k != CONSUMER_HEADER]
                break
        return CONTINUE


def authenticated(ctx: RequestContext, req: Request, identity: Identity) -> None:
    """Record who the request is from and tell the upstream."""
    ctx.consumer = identity.consumer
    ctx.set_attribute(IDENTITY_ATTRIBUTE, identity)
    req.headers.append((CONSUMER_HEADER, identity.consumer.encode("latin-1")))


class Rejector:
    """Builds the 401 for one auth filter: logs the reason, never the credential."""

    __slots__ = ("challenge", "challenge_invalid", "method", "observer")

    def __init__(self, method: str, scheme: str, realm: str, observer: PolicyObserver) -> None:
        self.method = method
        self.observer = observer
        quoted = realm.replace("\\", "\\\\").replace('"', '\\"')
        self.challenge = f'{scheme} realm="{quoted}"'.encode()
        suffix = ', error="invalid_token"' if scheme == "Bearer" else ""
        self.challenge_invalid = f'{scheme} realm="{quoted}"{suffix}'.encode()

    def reject(self, ctx: RequestContext, reason: str, **details: str) -> LocalReply:
        log.info(
            "auth_failed",
            extra={
                "event": "auth_failed",
                "auth": self.method,
                "reason": reason,
                "route": ctx.route,
                "request_id": ctx.request_id,
                **details,
            },
        )
        self.observer.auth_failed(ctx.route, self.method, reason.partition(":")[0])
        challenge = self.challenge if reason == "missing_credentials" else self.challenge_invalid
        return LocalReply(
            401,
            cv.ERR_UNAUTHENTICATED,
            "authentication required",
            headers=[(WWW_AUTHENTICATE, challenge)],
        )
