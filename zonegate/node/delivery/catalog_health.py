"""Live upstream health for the catalog, as the gateway nodes see it.

Each node's admin ``GET /status`` lists its clusters' hosts (zone, health-check
verdict, ejection). :func:`health_view` folds the answers of every node into
``cluster -> zone -> (healthy, total)``: a host counts as healthy when most of
the nodes that report it see it passing health checks and not ejected.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

import aiohttp

from zonegate.node.delivery.catalog import HealthView


def health_view(statuses: Sequence[Mapping[str, Any]]) -> HealthView:
    """Fold node /status documents into healthy/total host counts per cluster and zone."""
    votes: dict[str, dict[str, tuple[str, list[bool]]]] = {}
    for status in statuses:
        clusters = status.get("clusters")
        if not isinstance(clusters, Mapping):
            continue
        for name, cluster in clusters.items():
            hosts = cluster.get("hosts") if isinstance(cluster, Mapping) else None
            for host in hosts if isinstance(hosts, list) else []:
                if not isinstance(host, Mapping) or "address" not in host:
                    continue
                ok = bool(host.get("healthy", True)) and not bool(host.get("ejected", False))
                zone = str(host.get("zone", ""))
                entry = votes.setdefault(str(name), {}).setdefault(str(host["address"]), (zone, []))
                entry[1].append(ok)
    view: dict[str, dict[str, tuple[int, int]]] = {}
    for name, hosts in votes.items():
        zones: dict[str, tuple[int, int]] = {}
        for zone, seen in hosts.values():
            healthy, total = zones.get(zone, (0, 0))
            zones[zone] = (healthy + (sum(seen) * 2 > len(seen)), total + 1)
        view[name] = zones
    return view


async def fetch_statuses(
    admin_urls: Sequence[str], *, token: str | None = None, timeout_s: float = 2.0
) -> tuple[list[dict[str, Any]], list[str]]:
    """``GET <url>/status`` of every node admin; the answers and one error line per failure."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    timeout = aiohttp.ClientTimeout(total=timeout_s)

    async def one(session: aiohttp.ClientSession, url: str) -> dict[str, Any] | str:
        target = url.rstrip("/") + "/status"
        try:
            async with session.get(target, headers=headers) as resp:
                if resp.status != 200:
                    return f"{target}: HTTP {resp.status}"
                body = await resp.json()
                return body if isinstance(body, dict) else f"{target}: not a JSON object"
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            return f"{target}: {exc.__class__.__name__}: {exc}"

    if not admin_urls:
        return [], []
    async with aiohttp.ClientSession(timeout=timeout) as session:
        results = await asyncio.gather(*(one(session, url) for url in admin_urls))
    statuses = [r for r in results if isinstance(r, dict)]
    errors = [r for r in results if isinstance(r, str)]
    return statuses, errors


def admin_url(address: str) -> str:
    """``127.0.0.1:9901`` -> ``http://127.0.0.1:9901``."""
    return address if "://" in address else f"http://{address}"
