"""All proxies of one fault proxy server, and the Python API to manage them.

The HTTP API is a thin layer over this class; the chaos harness and the
cluster supervisor can use it directly in-process::

    registry = ProxyRegistry()
    proxy = await registry.create_proxy(ProxySpec("glb_zone_a", "127.0.0.1:0", "127.0.0.1:8001"))
    registry.add_toxic("glb_zone_a", ToxicSpec.build("latency", {"latency": 200}))
    await registry.set_enabled("glb_zone_a", False)
    await registry.reset()
    await registry.close()
"""

from __future__ import annotations

import asyncio
import random
from typing import Any

from zonegate.chaos.faultproxy.errors import MSG_PROXY_EXISTS, Conflict, proxy_not_found
from zonegate.chaos.faultproxy.models import ProxySpec, ToxicSpec, parse_toxic
from zonegate.chaos.faultproxy.proxy import ProxyRuntime


class ProxyRegistry:
    """Proxies by name. Changes that bind or close sockets are serialized by one lock."""

    def __init__(self, *, rng: random.Random | None = None) -> None:
        self._proxies: dict[str, ProxyRuntime] = {}
        self._rng = rng or random.Random()
        self._lock = asyncio.Lock()

    def __contains__(self, name: object) -> bool:
        return name in self._proxies

    def names(self) -> list[str]:
        return sorted(self._proxies)

    def get(self, name: str) -> ProxyRuntime:
        try:
            return self._proxies[name]
        except KeyError:
            raise proxy_not_found() from None

    def to_json(self) -> dict[str, dict[str, Any]]:
        """``GET /proxies``: a JSON object keyed by proxy name."""
        return {name: self._proxies[name].to_json() for name in self.names()}

    # --- proxies ----------------------------------------------------------------
    async def create_proxy(self, spec: ProxySpec) -> ProxyRuntime:
        """Add a proxy (409 :class:`Conflict` if the name exists) and start it if enabled."""
        async with self._lock:
            if spec.name in self._proxies:
                raise Conflict(MSG_PROXY_EXISTS)
            proxy = ProxyRuntime(spec, self._rng)
            if spec.enabled:
                await proxy.start()
            self._proxies[spec.name] = proxy
            return proxy

    async def update_proxy(self, spec: ProxySpec) -> ProxyRuntime:
        """Apply new listen/upstream/enabled to the proxy named ``spec.name``."""
        async with self._lock:
            proxy = self.get(spec.name)
            await proxy.apply(spec)
            return proxy

    async def set_enabled(self, name: str, enabled: bool) -> ProxyRuntime:
        proxy = self.get(name)
        return await self.update_proxy(ProxySpec(proxy.name, proxy.listen, proxy.upstream, enabled))

    async def delete_proxy(self, name: str) -> None:
        async with self._lock:
            proxy = self.get(name)
            await proxy.stop()
            del self._proxies[name]

    async def populate(self, specs: list[ProxySpec]) -> list[ProxyRuntime]:
        """Toxiproxy's ``/populate``: create or replace each proxy.

        A proxy whose listen and upstream are unchanged is kept as it is (with
        its toxics and connections); a changed one is stopped and replaced.
        """
        async with self._lock:
            result: list[ProxyRuntime] = []
            for spec in specs:
                existing = self._proxies.get(spec.name)
                if existing is not None:
                    if existing.listen == spec.listen and existing.upstream == spec.upstream:
                        result.append(existing)
                        continue
                    await existing.stop()
                    del self._proxies[spec.name]
                proxy = ProxyRuntime(spec, self._rng)
                if spec.enabled:
                    await proxy.start()
                self._proxies[spec.name] = proxy
                result.append(proxy)
            return result

    async def reset(self) -> None:
        """``POST /reset``: enable every proxy and remove every toxic."""
        async with self._lock:
            for proxy in self._proxies.values():
                await proxy.start()
                proxy.remove_all_toxics()

    async def close(self) -> None:
        """Stop every proxy (server shutdown); the registry stays usable."""
        async with self._lock:
            for proxy in self._proxies.values():
                await proxy.stop()

    # --- toxics -------------------------------------------------------------------
    def add_toxic(self, proxy_name: str, toxic: ToxicSpec) -> ToxicSpec:
        """Add ``toxic`` to the end of its stream's chain; it reaches open connections too."""
        self.get(proxy_name).add_toxic(toxic)
        return toxic

    def add_toxic_json(self, proxy_name: str, payload: object) -> ToxicSpec:
        """Like :meth:`add_toxic` from a Toxiproxy JSON body (errors in Toxiproxy's order)."""
        proxy = self.get(proxy_name)
        toxic = parse_toxic(payload, taken_names=proxy.toxics)
        proxy.add_toxic(toxic)
        return toxic

    def get_toxic(self, proxy_name: str, toxic_name: str) -> ToxicSpec:
        return self.get(proxy_name).toxics.get(toxic_name)

    def update_toxic(self, proxy_name: str, toxic: ToxicSpec) -> ToxicSpec:
        self.get(proxy_name).update_toxic(toxic)
        return toxic

    def remove_toxic(self, proxy_name: str, toxic_name: str) -> ToxicSpec:
        return self.get(proxy_name).remove_toxic(toxic_name)
