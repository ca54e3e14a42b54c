"""TLS termination with trustme certificates, and a reload that drops no connection."""

from __future__ import annotations

import asyncio
import os
import ssl
from pathlib import Path

import pytest
import trustme
from cryptography import x509
from prometheus_client import generate_latest

from zonegate import conventions as cv
from zonegate.config.node_ops import ListenerTLS
from zonegate.node.ops.errors import TlsConfigError
from zonegate.node.ops.tls import CertificateReloader
from zonegate.testing.http1 import Http1Client


def install(cert: trustme.LeafCert, cert_file: Path, key_file: Path) -> int:
    """Write the pair atomically (as cert managers do); returns the certificate's serial."""
    for blob, path in ((cert.cert_chain_pems[0], cert_file), (cert.private_key_pem, key_file)):
        tmp = path.with_suffix(".tmp")
        blob.write_to_path(str(tmp))
        os.replace(tmp, path)
    return x509.load_pem_x509_certificate(cert.cert_chain_pems[0].bytes()).serial_number


def client_context(*cas: trustme.CA) -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    for ca in cas:
        ca.configure_trust(ctx)
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx


def serial_of(client: Http1Client) -> int:
    cert = client.peer_certificate
    assert cert is not None
    return int(str(cert["serialNumber"]), 16)


async def new_connection_serial(port: int, ctx: ssl.SSLContext) -> int:
    client = Http1Client("127.0.0.1", port, ssl=ctx)
    try:
        resp = await client.request("GET", "/echo")
        assert resp.status == 200
        return serial_of(client)
    finally:
        await client.close()


async def wait_for_serial(port: int, ctx: ssl.SSLContext, serial: int) -> None:
    deadline = asyncio.get_running_loop().time() + 5
    while await new_connection_serial(port, ctx) != serial:
        assert asyncio.get_running_loop().time() < deadline, "certificate not reloaded"
        await asyncio.sleep(0.02)


async def test_tls_termination_and_reload_without_dropping_connections(
    ops_node, backends, tmp_path
) -> None:
    backend = await backends()
    ca_old, ca_new = trustme.CA(), trustme.CA()
    cert_file, key_file = tmp_path / "tls.crt", tmp_path / "tls.key"
    old_serial = install(ca_old.issue_cert("127.0.0.1"), cert_file, key_file)
    cfg = ListenerTLS(cert_file=str(cert_file), key_file=str(key_file), reload_interval_s=0.02)
    reloader = CertificateReloader(cfg)
    document = {
        "clusters": [{"name": "app", "endpoints": [{"address": backend.address}]}],
        "routes": [{"name": "all", "upstream": "app"}],
    }
    item = await ops_node(document, ssl=reloader.listener_context)
    reloader.on_reload = item.ops.tls_reloaded
    reloader.start()
    port = item.node.address[1]
    trusting_both = client_context(ca_old, ca_new)
    try:
        kept = Http1Client("127.0.0.1", port, ssl=trusting_both)
        resp = await kept.request("GET", "/echo")
        assert resp.status == 200
        assert resp.keep_alive
        assert serial_of(kept) == old_serial
        tls = kept.ssl_object
        assert tls is not None
        assert tls.selected_alpn_protocol() == "http/1.1"
        assert tls.version() in {"TLSv1.2", "TLSv1.3"}
        seen = {k.lower(): v for k, v in backend.state.seen_headers[-1].items()}
        assert seen["x-forwarded-proto"] == "https"

        new_serial = install(ca_new.issue_cert("127.0.0.1"), cert_file, key_file)
        await wait_for_serial(port, trusting_both, new_serial)
        # The connection made before the reload is still up, on its old certificate.
        resp = await kept.request("GET", "/echo")
        assert resp.status == 200
        assert kept.connections_opened == 1
        assert serial_of(kept) == old_serial
        # Only the new CA is needed from now on.
        assert await new_connection_serial(port, client_context(ca_new)) == new_serial
        await kept.close()

        # A key that does not match: reported, and the current certificate stays in service.
        other = ca_new.issue_cert("127.0.0.1")
        other.private_key_pem.write_to_path(str(key_file))
        deadline = asyncio.get_running_loop().time() + 5
        while reloader.failures == 0:
            assert asyncio.get_running_loop().time() < deadline
            await asyncio.sleep(0.02)
        assert await new_connection_serial(port, trusting_both) == new_serial
        metrics = generate_latest(item.ops.registry).decode()
        base = 'node="node-1",result="{}",zone="zone-a"'
        assert f"{cv.TLS_CERT_RELOADS_TOTAL}{{{base.format('success')}}} 1.0" in metrics
        assert f"{cv.TLS_CERT_RELOADS_TOTAL}{{{base.format('failure')}}} 1.0" in metrics
    finally:
        await reloader.stop()


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1_1 is deprecated:DeprecationWarning")
async def test_old_protocol_versions_are_refused(ops_node, backends, tmp_path) -> None:
    backend = await backends()
    ca = trustme.CA()
    cert_file, key_file = tmp_path / "tls.crt", tmp_path / "tls.key"
    install(ca.issue_cert("127.0.0.1"), cert_file, key_file)
    reloader = CertificateReloader(ListenerTLS(cert_file=str(cert_file), key_file=str(key_file)))
    document = {
        "clusters": [{"name": "app", "endpoints": [{"address": backend.address}]}],
        "routes": [{"name": "all", "upstream": "app"}],
    }
    item = await ops_node(document, ssl=reloader.listener_context)
    old = client_context(ca)
    old.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
    old.maximum_version = ssl.TLSVersion.TLSv1_1
    with pytest.raises((ssl.SSLError, ConnectionError)):
        await Http1Client("127.0.0.1", item.node.address[1], ssl=old).request("GET", "/echo")
    tls12 = client_context(ca)
    tls12.maximum_version = ssl.TLSVersion.TLSv1_2
    client = Http1Client("127.0.0.1", item.node.address[1], ssl=tls12)
    assert (await client.request("GET", "/echo")).status == 200
    assert client.ssl_object is not None and client.ssl_object.version() == "TLSv1.2"
    await client.close()


def test_unloadable_files_give_a_clear_error(tmp_path) -> None:
    missing = ListenerTLS(cert_file=str(tmp_path / "nope.crt"), key_file=str(tmp_path / "k"))
    with pytest.raises(TlsConfigError, match="not found"):
        CertificateReloader(missing)
    garbage = tmp_path / "bad.crt"
    garbage.write_text("not a certificate")
    with pytest.raises(TlsConfigError, match="cannot load the certificate"):
        CertificateReloader(ListenerTLS(cert_file=str(garbage), key_file=str(garbage)))
