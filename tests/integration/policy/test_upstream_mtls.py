"""TLS to upstreams with trustme certificates: verification, SNI and client certificates.

The cluster config has no ``tls`` field yet, so the pool of the engine's cluster
is given the context that ``upstream_ssl_context`` builds from ``UpstreamTls``,
which is exactly what the node will do once the field exists.
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import trustme
from aiohttp import web

from zonegate.config.upstream import Cluster
from zonegate.config.upstream_tls import UpstreamTls
from zonegate.node.compose.executor import UpstreamCall
from zonegate.node.compose.upstream_send import cluster_sender
from zonegate.node.errors import UpstreamError
from zonegate.node.policy.tls import upstream_server_name, upstream_ssl_context
from zonegate.node.upstream.cluster import UpstreamCluster
from zonegate.node.upstream.pool import ConnectionPool
from zonegate.testing.gateway import simple_config


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    base = tmp_path_factory.mktemp("mtls")
    ca, other_ca = trustme.CA(), trustme.CA()
    server = ca.issue_cert("api.internal")
    client = ca.issue_cert("gateway.internal")
    rogue_client = other_ca.issue_cert("gateway.internal")
    files = {
        "ca": base / "ca.pem",
        "other_ca": base / "other-ca.pem",
        "client_cert": base / "client.pem",
        "client_key": base / "client.key",
        "rogue_cert": base / "rogue.pem",
        "rogue_key": base / "rogue.key",
    }
    ca.cert_pem.write_to_path(str(files["ca"]))
    other_ca.cert_pem.write_to_path(str(files["other_ca"]))
    client.private_key_pem.write_to_path(str(files["client_key"]))
    client.cert_chain_pems[0].write_to_path(str(files["client_cert"]))
    rogue_client.private_key_pem.write_to_path(str(files["rogue_key"]))
    rogue_client.cert_chain_pems[0].write_to_path(str(files["rogue_cert"]))
    return {**{k: str(v) for k, v in files.items()}, "ca_obj": ca, "server": server}


@pytest.fixture
async def mtls_backend(pki: dict[str, Any]) -> AsyncIterator[str]:
    """A JSON backend that requires a client certificate from the test CA."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    pki["server"].configure_cert(context)
    pki["ca_obj"].configure_trust(context)
    context.verify_mode = ssl.CERT_REQUIRED

    async def handle(request: web.Request) -> web.Response:
        assert request.transport is not None
        peer = request.transport.get_extra_info("peercert")
        subject = dict(item[0] for item in peer["subject"]) if peer else {}
        san = [v for k, v in peer.get("subjectAltName", ())] if peer else []
        return web.json_response({"client": subject.get("commonName") or san, "path": request.path})

    app = web.Application()
    app.router.add_get("/{tail:.*}", handle)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"127.0.0.1:{port}"
    await runner.cleanup()


def secure_cluster(address: str, tls: UpstreamTls) -> UpstreamCluster:
    cfg = Cluster.model_validate({"name": "secure", "endpoints": [{"address": address}]})
    pool = ConnectionPool(
        ssl_context=upstream_ssl_context(tls),
        server_hostname=upstream_server_name(tls, address.rpartition(":")[0]),
    )
    return UpstreamCluster(cfg, "zone-a", pool=pool)


async def _call(cluster: UpstreamCluster) -> tuple[int, bytes]:
    send = cluster_sender(lambda: {"secure": cluster})
    status, _, body = await send(UpstreamCall("c", "secure", "GET", "/hello", [], 5.0))
    return status, body


async def test_mtls_call_succeeds_with_client_certificate(
    pki: dict[str, Any], mtls_backend: str
) -> None:
    tls = UpstreamTls(
        ca_file=pki["ca"],
        sni="api.internal",
        cert_file=pki["client_cert"],
        key_file=pki["client_key"],
    )
    cluster = secure_cluster(mtls_backend, tls)
    try:
        status, body = await _call(cluster)
        assert status == 200 and b'"path": "/hello"' in body
        status, _ = await _call(cluster)  # the pooled TLS connection is reused
        assert status == 200 and cluster.pool.reuses_total == 1
    finally:
        await cluster.stop()


@pytest.mark.parametrize(
    ("tls_args", "why"),
    [
        ({"sni": "api.internal"}, "no client certificate"),
        (
            {"sni": "api.internal", "cert_file": "rogue_cert", "key_file": "rogue_key"},
            "client cert from another CA",
        ),
        (
            {"sni": "other.internal", "cert_file": "client_cert", "key_file": "client_key"},
            "wrong server name",
        ),
        (
            {
                "sni": "api.internal",
                "ca_file": "other_ca",
                "cert_file": "client_cert",
                "key_file": "client_key",
            },
            "server cert not trusted",
        ),
    ],
)
async def test_mtls_refused(
    pki: dict[str, Any], mtls_backend: str, tls_args: dict[str, str], why: str
) -> None:
    args = {"ca_file": pki["ca"], **tls_args}
    for key in ("cert_file", "key_file", "ca_file"):
        if key in args and args[key] in pki:
            args[key] = pki[args[key]]
    cluster = secure_cluster(mtls_backend, UpstreamTls(**args))
    try:
        with pytest.raises(UpstreamError):
            await _call(cluster)
    finally:
        await cluster.stop()


async def test_proxied_request_over_mtls_through_the_node(
    policy_gateway: Any, pki: dict[str, Any], mtls_backend: str, tmp_path: Path
) -> None:
    gw = await policy_gateway(simple_config(mtls_backend))
    tls = UpstreamTls(
        ca_file=pki["ca"],
        sni="api.internal",
        cert_file=pki["client_cert"],
        key_file=pki["client_key"],
    )
    gw.node.snapshot.clusters["app"].pool = ConnectionPool(
        ssl_context=upstream_ssl_context(tls), server_hostname=tls.sni
    )
    async with aiohttp.ClientSession() as session:
        async with session.get(gw.url("/through")) as resp:
            assert resp.status == 200
            body = await resp.json()
    assert body["path"] == "/through"
    assert "gateway.internal" in str(body["client"])
