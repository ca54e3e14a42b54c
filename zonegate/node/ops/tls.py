"""TLS termination on the traffic listener, with certificates reloaded on change.

The listener keeps the context it was created with; its SNI callback (which
OpenSSL runs for every handshake, with or without a server name) switches
each new connection to the newest context. A reload builds a fresh
:class:`ssl.SSLContext`, so connections already established keep theirs and
nothing is dropped. A certificate/key pair that does not load is reported
and the previous one stays in service. TLS 1.2+ only, ALPN ``http/1.1``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import ssl
from collections.abc import Callable
from dataclasses import dataclass

from cryptography import x509

from zonegate.config.node_ops import ListenerTLS
from zonegate.node.ops.errors import TlsConfigError

log = logging.getLogger("zonegate.node.tls")

ALPN = ["http/1.1"]
_VERSIONS = {"1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}


def server_context(cfg: ListenerTLS) -> ssl.SSLContext:
    """A server context for the configured files; TlsConfigError when they do not load."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = _VERSIONS[cfg.min_version]
    ctx.options |= ssl.OP_NO_COMPRESSION | ssl.OP_CIPHER_SERVER_PREFERENCE
    ctx.options |= getattr(ssl, "OP_NO_RENEGOTIATION", 0)
    ctx.set_alpn_protocols(ALPN)
    try:
        ctx.load_cert_chain(cfg.cert_file, cfg.key_file)
    except FileNotFoundError as exc:
        raise TlsConfigError(f"TLS file not found: {exc.filename}") from None
    except PermissionError as exc:
        raise TlsConfigError(f"TLS file not readable: {exc.filename}") from None
    except ssl.SSLError as exc:
        raise TlsConfigError(
            f"cannot load the certificate {cfg.cert_file} with the key {cfg.key_file}: "
            f"{exc.reason or exc}"
        ) from None
    return ctx


def certificate_expiry(cert_file: str) -> float:
    """notAfter of the first certificate in the file, as a Unix timestamp (0 when unreadable)."""
    try:
        with open(cert_file, "rb") as fh:
            cert = x509.load_pem_x509_certificate(fh.read())
    except (OSError, ValueError):
        return 0.0
    return cert.not_valid_after_utc.timestamp()


@dataclass(frozen=True)
class _FileStamp:
    mtime_ns: int
    size: int
    inode: int


def _stamp(path: str) -> _FileStamp | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return _FileStamp(st.st_mtime_ns, st.st_size, st.st_ino)


class CertificateReloader:
    """The listener's TLS context and the newest certificate, checked every interval."""

    def __init__(
        self,
        cfg: ListenerTLS,
        *,
        on_reload: Callable[[bool, float], None] | None = None,
    ) -> None:
        self.cfg = cfg
        self.on_reload = on_reload
        self.current = server_context(cfg)
        self.reloads = 0
        self.failures = 0
        self.expiry = certificate_expiry(cfg.cert_file)
        self._stamps = self._read_stamps()
        # The listener's own context: it only hands each handshake to ``current``.
        self.listener_context = self.current
        self.listener_context.sni_callback = self._pick_context
        self._task: asyncio.Task[None] | None = None

    def _read_stamps(self) -> tuple[_FileStamp | None, _FileStamp | None]:
        return _stamp(self.cfg.cert_file), _stamp(self.cfg.key_file)

    def _pick_context(
        self, conn: ssl.SSLObject | ssl.SSLSocket, server_name: str | None, _: ssl.SSLContext
    ) -> int | None:
        if self.current is not self.listener_context:
            conn.context = self.current
        return None

    def check(self) -> bool:
        """Reload when either file changed; True when a new certificate is in service."""
        stamps = self._read_stamps()
        if stamps == self._stamps:
            return False
        self._stamps = stamps
        try:
            fresh = server_context(self.cfg)
        except TlsConfigError as exc:
            self.failures += 1
            log.error("tls_certificate_reload_failed", extra={"error": exc.message})
            if self.on_reload is not None:
                self.on_reload(False, self.expiry)
            return False
        self.current = fresh
        self.reloads += 1
        self.expiry = certificate_expiry(self.cfg.cert_file)
        log.info(
            "tls_certificate_reloaded",
            extra={"cert_file": self.cfg.cert_file, "not_after": self.expiry},
        )
        if self.on_reload is not None:
            self.on_reload(True, self.expiry)
        return True

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="tls-reload")

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.cfg.reload_interval_s)
            self.check()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
