"""One proxy: a listening socket, its live connections, its toxics.

Semantics follow Toxiproxy's ``Proxy``: ``enabled=false`` closes the
listener and every connection (new connects are refused); enabling binds the
same address again (a port picked with ``:0`` is kept). Changing ``listen`` or
``upstream`` restarts the proxy and drops its connections. Toxic changes
apply to open connections too; each connection rolls ``toxicity`` per toxic
when the toxic reaches it.
"""

from __future__ import annotations

import asyncio
import logging
import random
import socket
from typing import Any

from zonegate.chaos.faultproxy.addresses import HostPort, format_host_port, parse_host_port
from zonegate.chaos.faultproxy.connection import ClientSide, Connection
from zonegate.chaos.faultproxy.errors import ListenFailed
from zonegate.chaos.faultproxy.models import ProxySpec, ToxicSpec
from zonegate.chaos.faultproxy.toxicset import ToxicSet

log = logging.getLogger(__name__)

LISTEN_BACKLOG = 1024


class ProxyRuntime:
    """A running (or disabled) proxy. Create and change it through :class:`ProxyRegistry`."""

    def __init__(self, spec: ProxySpec, rng: random.Random) -> None:
        self.name = spec.name
        self.listen = spec.listen
        self.upstream = spec.upstream
        self.upstream_address: HostPort = parse_host_port(
            spec.upstream, field="upstream", listen=False
        )
        self.enabled = False
        self.toxics = ToxicSet()
        self._rng = rng
        self._server: asyncio.Server | None = None
        self._connections: set[Connection] = set()
        self._pending: set[ClientSide] = set()

    @property
    def spec(self) -> ProxySpec:
        return ProxySpec(self.name, self.listen, self.upstream, self.enabled)

    @property
    def connection_count(self) -> int:
        return len(self._connections)

    def queued_bytes(self) -> int:
        """Bytes held inside toxic chains right now (bounded by flow control)."""
        return sum(link.queued_bytes for conn in self._connections for link in conn.links.values())

    def to_json(self, *, with_toxics: bool = True) -> dict[str, Any]:
        body: dict[str, Any] = {
            "name": self.name,
            "listen": self.listen,
            "upstream": self.upstream,
            "enabled": self.enabled,
        }
        if with_toxics:
            body["toxics"] = self.toxics.to_json()
        return body

    # --- lifecycle ----------------------------------------------------------
    async def start(self) -> None:
        """Bind and listen; ``listen`` becomes the bound address. Raises :class:`ListenFailed`."""
        if self.enabled:
            return
        loop = asyncio.get_running_loop()
        address = parse_host_port(self.listen, field="listen", listen=True)
        try:
            infos = await loop.getaddrinfo(
                address.host, address.port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
            )
            family, kind, proto, _, sockaddr = infos[0]
            sock = socket.socket(family, kind, proto)
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.bind(sockaddr)
                sock.setblocking(False)
                self._server = await loop.create_server(
                    lambda: ClientSide(self), sock=sock, backlog=LISTEN_BACKLOG
                )
            except BaseException:
                sock.close()
                raise
        except OSError as exc:
            raise ListenFailed(
                f"listen tcp {self.listen}: {exc.strerror or exc} (proxy {self.name!r})"
            ) from None
        host, port = sock.getsockname()[:2]
        self.listen = format_host_port(host, port)
        self.enabled = True
        log.info("faultproxy_proxy_started proxy=%s listen=%s", self.name, self.listen)

    async def stop(self) -> None:
        """Stop listening and drop every connection (Toxiproxy's ``stop``)."""
        if not self.enabled:
            return
        self.enabled = False
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for client in list(self._pending):
            client.close(abort=True)
        for conn in list(self._connections):
            conn.abort()
        await asyncio.sleep(0)  # let the closed sockets' callbacks run
        log.info("faultproxy_proxy_stopped proxy=%s", self.name)

    async def apply(self, spec: ProxySpec) -> None:
        """Toxiproxy's ``Proxy.Update``: new addresses restart it, ``enabled`` starts/stops it."""
        if spec.listen != self.listen or spec.upstream != self.upstream:
            await self.stop()
            self.listen = spec.listen
            self.upstream = spec.upstream
            self.upstream_address = parse_host_port(spec.upstream, field="upstream", listen=False)
        if spec.enabled and not self.enabled:
            await self.start()
        elif not spec.enabled and self.enabled:
            await self.stop()

    # --- toxics ---------------------------------------------------------------
    def add_toxic(self, toxic: ToxicSpec) -> None:
        self.toxics.add(toxic)
        for conn in list(self._connections):
            conn.links[toxic.stream].add_toxic(toxic, self._rng)

    def update_toxic(self, toxic: ToxicSpec) -> None:
        self.toxics.replace(toxic)
        for conn in list(self._connections):
            conn.links[toxic.stream].update_toxic(toxic, self._rng)

    def remove_toxic(self, name: str) -> ToxicSpec:
        toxic = self.toxics.remove(name)
        for conn in list(self._connections):
            conn.links[toxic.stream].remove_toxic(name)
        return toxic

    def remove_all_toxics(self) -> None:
        for toxic in list(self.toxics):
            self.remove_toxic(toxic.name)

    # --- called by connections -----------------------------------------------------
    def track_pending(self, client: ClientSide) -> None:
        self._pending.add(client)

    def untrack_pending(self, client: ClientSide) -> None:
        self._pending.discard(client)

    def connection_opened(self, conn: Connection) -> None:
        for toxic in self.toxics:
            conn.links[toxic.stream].add_toxic(toxic, self._rng)
        self._connections.add(conn)

    def connection_closed(self, conn: Connection) -> None:
        self._connections.discard(conn)
