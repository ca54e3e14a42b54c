"""The admin listener: endpoints, bearer token off loopback, drain through POST /drain."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import aiohttp
import pytest

from zonegate import conventions as cv
from zonegate.cli.main import build_parser
from zonegate.config.node_ops import DrainSettings
from zonegate.node.ops.admin import AdminServer, AdminState
from zonegate.node.ops.drain import DrainController
from zonegate.node.ops.errors import AdminConfigError

TOKEN = "s3cret-admin-token-0123456789"


def simple(address: str) -> dict[str, Any]:
    return {
        "clusters": [{"name": "app", "endpoints": [{"address": address, "zone": "zone-a"}]}],
        "routes": [{"name": "all", "upstream": "app"}],
    }


async def start_admin(item, host: str, token: str | None):
    drain = DrainController(item.node, DrainSettings(grace_s=0, timeout_s=5))
    admin = AdminServer(AdminState(item.node, item.ops.registry, token, drain.request))
    address = await admin.start(host, 0)
    return admin, address, drain


async def test_endpoints_on_loopback_need_no_token(ops_node, backends) -> None:
    backend = await backends()
    item = await ops_node(simple(backend.address), revision=12)
    admin, (host, port), drain = await start_admin(item, "127.0.0.1", None)
    base = f"http://{host}:{port}"
    try:
        async with aiohttp.ClientSession() as session:
            async with session.get(base + cv.ADMIN_HEALTHZ) as resp:
                assert resp.status == 200
                assert (await resp.json())["status"] == "ok"
            async with session.get(base + cv.ADMIN_READYZ) as resp:
                assert resp.status == 200
                assert await resp.json() == {"status": "ready", "revision": 12}
            async with session.get(base + cv.ADMIN_CONFIG) as resp:
                body = await resp.json()
            assert body["revision"] == 12
            assert body["source"] == "file"
            assert body["config"]["routes"][0]["name"] == "all"
            assert body["config"]["clusters"][0]["endpoints"][0]["address"] == backend.address
            async with session.get(base + cv.ADMIN_STATUS) as resp:
                status = await resp.json()
            assert status["node"] == "node-1" and status["zone"] == "zone-a"
            assert status["ready"] is True
            assert status["clusters"]["app"]["hosts"][0]["address"] == backend.address
            async with session.get(base + cv.ADMIN_METRICS) as resp:
                assert resp.status == 200
                assert cv.NODE_REQUESTS_TOTAL in await resp.text()
            async with session.post(base + cv.ADMIN_DRAIN) as resp:
                assert resp.status == 202
                assert await resp.json() == {"status": "draining", "started": True}
            async with session.get(base + cv.ADMIN_READYZ) as resp:
                assert resp.status == 503
                assert (await resp.json())["status"] == "draining"
            async with session.get(base + cv.ADMIN_HEALTHZ) as resp:
                assert resp.status == 200  # alive while draining
            async with session.post(base + cv.ADMIN_DRAIN) as resp:
                assert resp.status == 200
                assert (await resp.json())["started"] is False
        assert await drain.wait() is True
    finally:
        await admin.stop()


async def test_token_required_off_loopback(ops_node, backends) -> None:
    backend = await backends()
    item = await ops_node(simple(backend.address))
    with pytest.raises(AdminConfigError, match="--admin-token-file"):
        await start_admin(item, "0.0.0.0", None)
    admin, (_, port), _drain = await start_admin(item, "0.0.0.0", TOKEN)
    base = f"http://127.0.0.1:{port}"
    good = {"Authorization": f"Bearer {TOKEN}"}
    try:
        async with aiohttp.ClientSession() as session:
            for path in (cv.ADMIN_HEALTHZ, cv.ADMIN_READYZ):
                async with session.get(base + path) as resp:
                    assert resp.status == 200, path
            for path in (cv.ADMIN_METRICS, cv.ADMIN_CONFIG, cv.ADMIN_STATUS):
                for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
                    async with session.get(base + path, headers=headers) as resp:
                        assert resp.status == 401, (path, headers)
                        assert resp.headers["WWW-Authenticate"].startswith("Bearer")
                        body = await resp.json()
                        assert body["error"]["code"] == cv.ERR_UNAUTHENTICATED
                async with session.get(base + path, headers=good) as resp:
                    assert resp.status == 200, path
            async with session.post(base + cv.ADMIN_DRAIN) as resp:
                assert resp.status == 401
            assert not item.node.draining
            async with session.post(base + cv.ADMIN_DRAIN, headers=good) as resp:
                assert resp.status == 202
            assert item.node.draining
    finally:
        await admin.stop()


def test_cli_refuses_a_public_admin_listener_without_token(tmp_path) -> None:
    config = tmp_path / "cluster.yaml"
    config.write_text(
        "version: 1\nclusters:\n  - name: app\n    endpoints: [{address: '127.0.0.1:9'}]\n"
        "routes:\n  - name: all\n    upstream: app\n"
    )
    command = [sys.executable, "-m", "zonegate.cli.main", "node", "-c", str(config)]
    command += ["--listen", "127.0.0.1:0", "--admin", "0.0.0.0:0"]
    out = subprocess.run(
        command, check=False, capture_output=True, text=True, timeout=30, env={"PATH": "/bin"}
    )
    assert out.returncode == 2
    assert "reachable from other hosts" in out.stderr
    assert "--admin-token-file" in out.stderr


def test_bad_flags_are_refused_by_the_parser(capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(["node", "-c", "x.yaml", "--trace-sample-ratio", "1.5"])
    assert exit_info.value.code == 2
    assert "expected a ratio between 0 and 1" in capsys.readouterr().err
