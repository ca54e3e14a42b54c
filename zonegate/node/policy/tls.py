"""Client-side TLS contexts for upstream clusters (CA bundle, SNI, mTLS client certificate)."""

from __future__ import annotations

import ssl

from zonegate.config.upstream_tls import UpstreamTls
from zonegate.node.policy.errors import PolicyBuildError

_VERSIONS = {"1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}


def upstream_ssl_context(cfg: UpstreamTls) -> ssl.SSLContext:
    """A verifying client context (system CAs unless ``ca_file``); raises PolicyBuildError."""
    try:
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=cfg.ca_file)
    except (OSError, ssl.SSLError) as exc:
        raise PolicyBuildError(f"cannot load ca_file {cfg.ca_file}: {_why(exc)}") from None
    context.minimum_version = _VERSIONS[cfg.min_version]
    if not cfg.verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if cfg.cert_file is not None:
        try:
            context.load_cert_chain(cfg.cert_file, cfg.key_file)
        except (OSError, ssl.SSLError) as exc:
            raise PolicyBuildError(
                f"cannot load client certificate {cfg.cert_file} / key {cfg.key_file}: {_why(exc)}"
            ) from None
    if cfg.alpn:
        context.set_alpn_protocols(cfg.alpn)
    return context


def upstream_server_name(cfg: UpstreamTls, host: str) -> str:
    """SNI and the name the certificate must match: ``sni`` or the endpoint's host."""
    return cfg.sni or host


def _why(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__
