"""Errors of the node's operational parts (admin listener, TLS, tracing setup)."""

from __future__ import annotations

from zonegate import conventions as cv
from zonegate.errors import ZonegateError


class OpsError(ZonegateError):
    """Root of the node operations errors."""

    status = 500
    code = "node_ops_error"


class AdminConfigError(OpsError):
    """The admin listener cannot start as configured (e.g. no token off loopback)."""

    status = 400
    code = "invalid_admin_config"


class AdminUnauthorized(OpsError):
    status = 401
    code = cv.ERR_UNAUTHENTICATED


class TlsConfigError(OpsError):
    """A certificate or key that does not load."""

    status = 400
    code = "invalid_tls_config"
