"""Errors of the data plane and how every gateway-made answer is rendered."""

from __future__ import annotations

import json

from zonegate import conventions as cv
from zonegate.errors import ZonegateError

REASONS: dict[int, bytes] = {
    100: b"Continue",
    200: b"OK",
    204: b"No Content",
    304: b"Not Modified",
    400: b"Bad Request",
    401: b"Unauthorized",
    403: b"Forbidden",
    404: b"Not Found",
    408: b"Request Timeout",
    413: b"Payload Too Large",
    417: b"Expectation Failed",
    429: b"Too Many Requests",
    431: b"Request Header Fields Too Large",
    500: b"Internal Server Error",
    502: b"Bad Gateway",
    503: b"Service Unavailable",
    504: b"Gateway Timeout",
}


class NodeError(ZonegateError):
    """Root of the node's errors."""


class BodyTooLarge(NodeError):
    status = 413
    code = "payload_too_large"


class ClientAborted(NodeError):
    status = 400
    code = "client_aborted"


class Overflow(NodeError):
    status = 503
    code = cv.ERR_OVERLOADED


class NoHealthyHost(NodeError):
    status = 503
    code = cv.ERR_UPSTREAM_UNAVAILABLE


class CircuitOpen(NodeError):
    status = 503
    code = cv.ERR_CIRCUIT_OPEN


class UpstreamError(NodeError):
    """An attempt to an upstream failed before a usable response head arrived."""

    status = 503
    code = cv.ERR_UPSTREAM_UNAVAILABLE
    #: True when the failure happened on our side of the wire (connect refused,
    #: reset, timeout) rather than in an answer the upstream gave.
    local_origin = True


class ConnectFailed(UpstreamError):
    status = 503
    code = cv.ERR_UPSTREAM_CONNECT


class UpstreamReset(UpstreamError):
    status = 502
    code = cv.ERR_UPSTREAM_RESET


class UpstreamTimeout(UpstreamError):
    status = 504
    code = cv.ERR_UPSTREAM_TIMEOUT


class BadUpstreamResponse(UpstreamError):
    status = 502
    code = "upstream_protocol_error"


def error_body(code: str, message: str, request_id: str) -> bytes:
    """The JSON body of every error the gateway itself answers."""
    return json.dumps(
        {"error": {"code": code, "message": message, "request_id": request_id}},
        separators=(",", ":"),
    ).encode()


def reason(status: int) -> bytes:
    return REASONS.get(status, b"Unknown")
