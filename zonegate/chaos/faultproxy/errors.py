"""Errors of the fault proxy, shaped like Toxiproxy's API errors.

Toxiproxy answers every failure as ``{"error": "<message>", "status": <code>}``;
the messages below are Toxiproxy's own (``proxy not found``, ``toxic already
exists`` ...), with details appended after a colon as Toxiproxy's
``joinError`` does, so clients that match on status or on the message prefix
keep working.
"""

from __future__ import annotations

from typing import Any

from zonegate.errors import ZonegateError


class FaultProxyError(ZonegateError):
    """Root of the fault proxy's errors."""

    status = 500
    code = "faultproxy_error"

    def to_json(self) -> dict[str, Any]:
        return {"error": self.message, "status": self.status}


class BadRequest(FaultProxyError):
    """Malformed body, missing field, invalid stream/type/attributes."""

    status = 400
    code = "bad_request"


class NotFound(FaultProxyError):
    status = 404
    code = "not_found"


class Conflict(FaultProxyError):
    status = 409
    code = "conflict"


class ListenFailed(FaultProxyError):
    """The proxy could not bind its listen address (Toxiproxy answers 500 here too)."""

    status = 500
    code = "listen_failed"


MSG_BAD_BODY = "bad request body"
MSG_MISSING_FIELD = "missing required field"
MSG_PROXY_NOT_FOUND = "proxy not found"
MSG_PROXY_EXISTS = "proxy already exists"
MSG_INVALID_STREAM = "stream was invalid, can be either upstream or downstream"
MSG_INVALID_TYPE = "invalid toxic type"
MSG_TOXIC_EXISTS = "toxic already exists"
MSG_TOXIC_NOT_FOUND = "toxic not found"


def bad_body(detail: str) -> BadRequest:
    return BadRequest(f"{MSG_BAD_BODY}: {detail}")


def missing_field(field: str) -> BadRequest:
    return BadRequest(f"{MSG_MISSING_FIELD}: {field}")


def proxy_not_found() -> NotFound:
    return NotFound(MSG_PROXY_NOT_FOUND)


def toxic_not_found() -> NotFound:
    return NotFound(MSG_TOXIC_NOT_FOUND)
