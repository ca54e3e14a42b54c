"""Operational settings of a gateway node: admin listener, drain, access log, tracing, TLS.

Every field has a command-line flag on ``zonegate node`` that overrides it.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from zonegate.config.base import Ratio, Seconds, StrictModel


class ListenerTLS(StrictModel):
    """TLS termination on the traffic listener (TLS 1.2+, ALPN http/1.1)."""

    cert_file: str = Field(description="PEM certificate chain (leaf first)")
    key_file: str = Field(description="PEM private key of the leaf certificate")
    min_version: Literal["1.2", "1.3"] = "1.2"
    reload_interval_s: Seconds = Field(
        default=5.0, description="how often the files are checked for a new certificate"
    )


class AdminSettings(StrictModel):
    """The admin listener: /healthz, /readyz, /metrics, /config, /status, POST /drain."""

    enabled: bool = True
    host: str = Field(default="127.0.0.1", description="a non-loopback address needs a token")
    port: int = Field(default=9901, ge=0, le=65535)
    token_file: str | None = Field(
        default=None, description="file holding the bearer token (else $ZONEGATE_ADMIN_TOKEN)"
    )


class DrainSettings(StrictModel):
    """Graceful drain (SIGTERM or POST /drain)."""

    grace_s: float = Field(
        default=0.0,
        ge=0,
        le=3600,
        description="keep serving this long after readiness turns 503, then stop accepting",
    )
    timeout_s: Seconds = Field(
        default=30.0, description="then wait at most this long for in-flight requests"
    )


class AccessLogSettings(StrictModel):
    """One JSON line per request, written off the event loop."""

    path: str | None = Field(default=None, description="file path, '-' for stdout, unset = off")
    flush_interval_s: Seconds = 0.2
    max_pending_bytes: int = Field(
        default=64 << 20, ge=1 << 16, description="lines beyond this backlog are dropped"
    )


class TracingSettings(StrictModel):
    """OpenTelemetry tracing; W3C traceparent is always propagated."""

    otlp_endpoint: str | None = Field(
        default=None, description="OTLP/HTTP endpoint (http://host:4318); unset = no spans"
    )
    otlp_protocol: Literal["http/json", "http/protobuf"] = Field(
        default="http/json",
        description="OTLP/HTTP encoding (as OTEL_EXPORTER_OTLP_PROTOCOL); JSON costs far less CPU",
    )
    sample_ratio: Ratio = Field(default=0.01, description="share of new traces that are sampled")
    service_name: str = "zonegate-node"

    @field_validator("otlp_endpoint")
    @classmethod
    def _check_endpoint(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError(f"otlp_endpoint must be an http(s) URL, got {value!r}")
        return value
