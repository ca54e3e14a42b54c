"""Health probes of the cluster's processes (HTTP, etcd ``/health``, TCP) and etcd leadership."""

from __future__ import annotations

import asyncio
import contextlib

import aiohttp

from zonegate.cluster.plan import HealthCheck

PROBE_TIMEOUT_S = 0.5


async def probe(session: aiohttp.ClientSession, check: HealthCheck) -> bool:
    """True when the process answers its health check now."""
    if check.kind == "tcp":
        return await _tcp(check.host, check.port)
    try:
        async with session.get(
            check.url, timeout=aiohttp.ClientTimeout(total=PROBE_TIMEOUT_S)
        ) as response:
            if response.status != 200:
                return False
            if check.kind == "etcd":
                body = await response.text()
                return '"health":"true"' in body.replace(" ", "")
            return True
    except (aiohttp.ClientError, TimeoutError, OSError):
        return False


async def _tcp(host: str, port: int) -> bool:
    try:
        async with asyncio.timeout(PROBE_TIMEOUT_S):
            _, writer = await asyncio.open_connection(host, port)
    except (OSError, TimeoutError):
        return False
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True


async def is_etcd_leader(session: aiohttp.ClientSession, client_url: str) -> bool:
    """``etcd_server_is_leader 1`` in the member's ``/metrics``."""
    try:
        async with session.get(
            f"{client_url}/metrics", timeout=aiohttp.ClientTimeout(total=PROBE_TIMEOUT_S)
        ) as response:
            body = await response.text()
    except (aiohttp.ClientError, TimeoutError, OSError):
        return False
    return "\netcd_server_is_leader 1" in body
