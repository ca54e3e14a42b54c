"""Registration: a key bound to a lease that lives exactly as long as its owner.

:class:`Registration` grants a lease (default TTL 3 s, renewed every second),
writes its key with it and keeps it alive. A process that dies disappears
from etcd within the TTL (plus up to 0.5 s, etcd's expiry check period); one
that stops cleanly revokes the lease so its key goes at once. If the lease is
lost (etcd was unreachable for longer than the TTL), a new lease is granted
and the key written again as soon as etcd answers. Starting while etcd is
down is fine: registration happens when it comes back.

:class:`NodeRegistration` and :class:`ServiceRegistration` publish a
:class:`~zonegate.coordinator.records.NodeInfo` under ``nodes/<zone>/<id>``
and a :class:`~zonegate.coordinator.records.ServiceEndpoint` under
``services/<svc>/<zone>/<id>``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from typing import Any

from zonegate.coordinator.backoff import Backoff
from zonegate.coordinator.client import EtcdClient
from zonegate.coordinator.errors import EtcdUnavailableError, LeaseNotFoundError
from zonegate.coordinator.keys import Keys
from zonegate.coordinator.lease import LeaseKeeper
from zonegate.coordinator.records import NodeInfo, ServiceEndpoint
from zonegate.coordinator.tasks import cancel_and_wait

log = logging.getLogger(__name__)
DEFAULT_TTL = 3


class Registration:
    """Keep ``key = value`` in etcd, bound to a lease, while running."""

    def __init__(self, client: EtcdClient, key: str, value: bytes, *, ttl: int = DEFAULT_TTL):
        self.client = client
        self.key = key
        self.ttl = ttl
        self._value = value
        self._changed = asyncio.Event()
        self._registered = asyncio.Event()
        self._keeper: LeaseKeeper | None = None
        self._task: asyncio.Task[None] | None = None
        self.registrations = 0  # how many times the key was (re)written with a new lease

    @property
    def value(self) -> bytes:
        return self._value

    @property
    def registered(self) -> bool:
        """The key was written and its lease is surely alive right now."""
        return self._registered.is_set() and self._keeper is not None and self._keeper.alive()

    @property
    def lease_id(self) -> int | None:
        return self._keeper.lease_id if self._keeper is not None else None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"register {self.key}")

    async def wait_registered(self, timeout: float | None = None) -> bool:
        try:
            async with asyncio.timeout(timeout):
                await self._registered.wait()
        except TimeoutError:
            return False
        return True

    async def update(self, value: bytes) -> None:
        """Publish a new value (now if registered, else at the next registration)."""
        self._value = value
        self._changed.set()

    async def stop(self, *, revoke: bool = True) -> None:
        """Stop renewing; with ``revoke`` the key disappears at once (drain)."""
        task, self._task = self._task, None
        if task is not None:
            await cancel_and_wait(task)
        keeper, self._keeper = self._keeper, None
        self._registered.clear()
        if keeper is not None and revoke:
            try:
                await keeper.revoke()
                log.info("registration_revoked key=%s", self.key)
            except EtcdUnavailableError as exc:
                log.warning("registration_revoke_failed key=%s (expires by TTL): %s", self.key, exc)

    async def _run(self) -> None:
        backoff = Backoff(0.1, 1.0)
        while True:
            keeper = LeaseKeeper(self.client, self.ttl)
            try:
                await keeper.grant()
                self._changed.clear()
                await self.client.put(self.key, self._value, lease=keeper.lease_id or 0)
            except (EtcdUnavailableError, LeaseNotFoundError) as exc:
                log.debug("registration_failed key=%s: %s", self.key, exc)
                await asyncio.sleep(backoff.next())
                continue
            self._keeper = keeper
            self.registrations += 1
            self._registered.set()
            log.info("registered key=%s lease=%x", self.key, keeper.lease_id or 0)
            backoff.reset()
            try:
                await self._hold(keeper)
            finally:
                self._registered.clear()
            log.warning("registration_lost key=%s: registering again", self.key)

    async def _hold(self, keeper: LeaseKeeper) -> None:
        """Renew the lease and push value updates until the lease is lost."""
        renewing = asyncio.create_task(keeper.keep_alive(), name=f"keepalive {self.key}")
        backoff = Backoff(0.1, 1.0)
        try:
            while True:
                changed = asyncio.create_task(self._changed.wait())
                try:
                    await asyncio.wait({renewing, changed}, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    changed.cancel()
                if renewing.done():
                    renewing.result()
                    return
                self._changed.clear()
                try:
                    await self.client.put(self.key, self._value, lease=keeper.lease_id or 0)
                    backoff.reset()
                except LeaseNotFoundError:
                    return
                except EtcdUnavailableError:
                    self._changed.set()
                    await asyncio.sleep(backoff.next())
        finally:
            await cancel_and_wait(renewing)


class NodeRegistration:
    """A gateway node's registration; :meth:`update` republishes changed fields."""

    def __init__(
        self, client: EtcdClient, keys: Keys, info: NodeInfo, *, ttl: int = DEFAULT_TTL
    ) -> None:
        self._info = info
        self.registration = Registration(
            client, keys.node(info.zone, info.node_id), info.to_json(), ttl=ttl
        )

    @property
    def info(self) -> NodeInfo:
        return self._info

    @property
    def registered(self) -> bool:
        return self.registration.registered

    def start(self) -> None:
        self.registration.start()

    async def wait_registered(self, timeout: float | None = None) -> bool:
        return await self.registration.wait_registered(timeout)

    async def update(self, **changes: Any) -> NodeInfo:
        """e.g. ``update(config_revision=42)`` or ``update(state="draining")``."""
        self._info = dataclasses.replace(self._info, **changes)
        await self.registration.update(self._info.to_json())
        return self._info

    async def stop(self, *, revoke: bool = True) -> None:
        await self.registration.stop(revoke=revoke)


class ServiceRegistration:
    """A backend instance's registration (``zonegate service register`` uses it)."""

    def __init__(
        self, client: EtcdClient, keys: Keys, endpoint: ServiceEndpoint, *, ttl: int = DEFAULT_TTL
    ) -> None:
        self.endpoint = endpoint
        key = keys.service(endpoint.service, endpoint.zone, endpoint.instance_id)
        self.registration = Registration(client, key, endpoint.to_json(), ttl=ttl)

    @property
    def registered(self) -> bool:
        return self.registration.registered

    def start(self) -> None:
        self.registration.start()

    async def wait_registered(self, timeout: float | None = None) -> bool:
        return await self.registration.wait_registered(timeout)

    async def stop(self, *, revoke: bool = True) -> None:
        await self.registration.stop(revoke=revoke)
