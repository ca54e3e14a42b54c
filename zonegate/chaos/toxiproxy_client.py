"""A small async client of the Toxiproxy HTTP API (zonegate's fault proxy or a real Toxiproxy).

Links: a link name such as ``glb:eu-west-1a`` stands for every proxy named
``glb:eu-west-1a`` or ``glb:eu-west-1a:<anything>`` (one proxy per node).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import aiohttp

from zonegate.chaos.errors import ActionFailed

TIMEOUT = aiohttp.ClientTimeout(total=5.0)


def link_members(names: list[str], link: str) -> list[str]:
    return sorted(n for n in names if n == link or n.startswith(link + ":"))


class ToxiproxyClient:
    def __init__(self, session: aiohttp.ClientSession, url: str) -> None:
        self.session = session
        self.url = url.rstrip("/")

    async def _call(self, method: str, path: str, body: Any = None) -> Any:
        try:
            async with self.session.request(
                method, self.url + path, json=body, timeout=TIMEOUT
            ) as response:
                text = await response.text()
                if response.status >= 400:
                    try:
                        message = str((await response.json(content_type=None))["error"])
                    except (ValueError, KeyError, TypeError):
                        message = text.strip()[:200]
                    raise ActionFailed(f"toxiproxy {method} {path}: {response.status} {message}")
                return await response.json(content_type=None) if text.strip() else None
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise ActionFailed(f"cannot reach the toxiproxy API at {self.url}: {exc}") from None

    async def proxies(self) -> dict[str, Any]:
        data = await self._call("GET", "/proxies")
        return data if isinstance(data, dict) else {}

    async def resolve(self, link: str) -> list[str]:
        names = list(await self.proxies())
        chosen = link_members(names, link)
        if not chosen:
            known = sorted({n.rsplit(":", 1)[0] if n.count(":") > 1 else n for n in names})
            raise ActionFailed(
                f"no fault proxy for link {link!r} (links: {', '.join(known) or 'none'}; "
                "start the cluster with fault proxies, see `zonegate up` fault_proxies:)"
            )
        return chosen

    async def add_toxic(self, proxy: str, toxic: dict[str, Any]) -> None:
        await self._call("POST", f"/proxies/{quote(proxy, safe='')}/toxics", toxic)

    async def toxics(self, proxy: str) -> list[dict[str, Any]]:
        data = await self._call("GET", f"/proxies/{quote(proxy, safe='')}/toxics")
        return data if isinstance(data, list) else []

    async def remove_toxic(self, proxy: str, name: str) -> bool:
        """False when the toxic was not there (removal is idempotent)."""
        try:
            await self._call(
                "DELETE", f"/proxies/{quote(proxy, safe='')}/toxics/{quote(name, safe='')}"
            )
        except ActionFailed as exc:
            if ": 404 " in exc.message:
                return False
            raise
        return True

    async def set_enabled(self, proxy: str, enabled: bool) -> None:
        await self._call("POST", f"/proxies/{quote(proxy, safe='')}", {"enabled": enabled})

    async def reset(self) -> None:
        await self._call("POST", "/reset")
