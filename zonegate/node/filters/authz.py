"""Authorization per route: deny wins; with an allow list the consumer must match it."""

from __future__ import annotations

import logging

from zonegate import conventions as cv
from zonegate.config.policies import Authorization
from zonegate.node.context import RequestContext
from zonegate.node.filters.base import CONTINUE, FilterResult, LocalReply
from zonegate.node.filters.policy_deps import PolicyObserver
from zonegate.node.http import Request
from zonegate.node.policy.identity import IDENTITY_ATTRIBUTE, Identity

log = logging.getLogger("zonegate.auth")


class _Sets:
    __slots__ = ("consumers", "groups", "scopes")

    def __init__(self, consumers: list[str], groups: list[str], scopes: list[str]) -> None:
        self.consumers = frozenset(consumers)
        self.groups = frozenset(groups)
        self.scopes = frozenset(scopes)

    def matches(self, identity: Identity) -> bool:
        return (
            identity.consumer in self.consumers
            or not self.groups.isdisjoint(identity.groups)
            or not self.scopes.isdisjoint(identity.scopes)
        )


class AuthzFilter:
    name = "authz"

    def __init__(self, cfg: Authorization, observer: PolicyObserver) -> None:
        self.deny = _Sets(cfg.deny.consumers, cfg.deny.groups, cfg.deny.scopes)
        allow = cfg.allow
        self.allow = None if allow is None else _Sets(allow.consumers, allow.groups, allow.scopes)
        self.observer = observer

    def on_request(self, ctx: RequestContext, req: Request) -> FilterResult:
        attributes = ctx.attributes
        identity = attributes.get(IDENTITY_ATTRIBUTE) if attributes else None
        if not isinstance(identity, Identity):
            return self._forbid(ctx, "anonymous")
        if self.deny.matches(identity):
            return self._forbid(ctx, "denied")
        if self.allow is not None and not self.allow.matches(identity):
            return self._forbid(ctx, "not_allowed")
        return CONTINUE

    def _forbid(self, ctx: RequestContext, reason: str) -> LocalReply:
        log.info(
            "authz_denied",
            extra={
                "event": "authz_denied",
                "reason": reason,
                "consumer": ctx.consumer,
                "route": ctx.route,
                "request_id": ctx.request_id,
            },
        )
        self.observer.auth_failed(ctx.route, "authz", reason)
        return LocalReply(403, cv.ERR_FORBIDDEN, "not allowed to use this route")
