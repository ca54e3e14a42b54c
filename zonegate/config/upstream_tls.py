"""TLS from the gateway to an upstream cluster: CA bundle, SNI, client certificate (mTLS)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from zonegate.config.base import StrictModel


class UpstreamTls(StrictModel):
    """Verification is on by default; ``verify: false`` is for lab setups only."""

    ca_file: str | None = Field(default=None, description="PEM bundle; default system CAs")
    verify: bool = True
    sni: str | None = Field(default=None, description="server name to send and verify")
    cert_file: str | None = Field(default=None, description="client certificate chain (mTLS)")
    key_file: str | None = Field(default=None, description="client private key (mTLS)")
    min_version: Literal["1.2", "1.3"] = "1.2"
    alpn: list[str] = Field(default_factory=lambda: ["http/1.1"])

    @model_validator(mode="after")
    def _pair(self) -> UpstreamTls:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("mTLS needs both cert_file and key_file")
        return self
