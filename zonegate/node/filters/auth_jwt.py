"""JWT bearer authentication (validation in zonegate.node.policy.jwt_validation)."""

from __future__ import annotations

from zonegate.config.policies import JwtAuth
from zonegate.node.context import RequestContext
from zonegate.node.filters.auth_common import Rejector, authenticated
from zonegate.node.filters.base import CONTINUE, FilterResult
from zonegate.node.filters.policy_deps import PolicyObserver
from zonegate.node.http import Request
from zonegate.node.policy.errors import Unauthenticated
from zonegate.node.policy.jwt_validation import JwtValidator


class JwtAuthFilter:
    name = "auth_jwt"

    def __init__(self, cfg: JwtAuth, validator: JwtValidator, observer: PolicyObserver) -> None:
        self.header = cfg.header.encode("latin-1")
        self.forward = cfg.forward
        self.validator = validator
        self.rejector = Rejector("jwt", "Bearer", cfg.realm, observer)

    def on_request(self, ctx: RequestContext, req: Request) -> FilterResult:
        raw = req.header(self.header)
        if raw is None:
            return self.rejector.reject(ctx, "missing_credentials")
        value = raw.decode("latin-1").strip()
        scheme, _, token = value.partition(" ")
        if scheme.lower() == "bearer":
            token = token.strip()
        elif self.header == b"authorization":
            return self.rejector.reject(ctx, "not_bearer")
        else:
            token = value
        if not token:
            return self.rejector.reject(ctx, "missing_credentials")
        try:
            identity = self.validator.validate(token)
        except Unauthenticated as exc:
            return self.rejector.reject(ctx, exc.reason)
        if not self.forward:
            req.headers[:] = [(k, v) for k, v in req.headers if k != self.header]
        authenticated(ctx, req, identity)
        return CONTINUE
