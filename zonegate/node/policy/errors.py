"""Errors of the policy layer; each carries the HTTP status and stable code it answers with."""

from __future__ import annotations

from zonegate import conventions as cv
from zonegate.errors import ZonegateError


class PolicyError(ZonegateError):
    """Root of the policy errors."""


class PolicyBuildError(PolicyError):
    """A policy that cannot be built from its config (unreadable key file, bad regex ...)."""

    status = 500
    code = "invalid_policy"


class Unauthenticated(PolicyError):
    """Credentials missing or invalid; ``reason`` is logged, never sent to the client."""

    status = 401
    code = cv.ERR_UNAUTHENTICATED

    def __init__(self, reason: str) -> None:
        super().__init__("authentication required")
        self.reason = reason


class CredentialFormatError(PolicyError):
    """A stored credential (API key hash) that cannot be parsed."""

    status = 500
    code = "invalid_credential"
