"""A lease and the keep-alive loop that renews it (written here, not the library's).

The loop renews every ``ttl / 3`` so that two lost renewals in a row are
survived. :meth:`LeaseKeeper.keep_alive` returns only when etcd says the lease
is gone; while etcd is unreachable it keeps trying. :meth:`LeaseKeeper.alive`
is the conservative local view: the lease is surely alive until ``ttl``
seconds after the last renewal was *sent* (leaders use it to stop acting on
leadership they may have lost).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from zonegate.coordinator.client import EtcdClient
from zonegate.coordinator.errors import EtcdUnavailableError, LeaseNotFoundError

log = logging.getLogger(__name__)


def renew_interval(ttl: float) -> float:
    """How often to renew a lease of ``ttl`` seconds."""
    return max(0.05, ttl / 3)


class LeaseKeeper:
    """Grants one lease and keeps it alive."""

    def __init__(
        self, client: EtcdClient, ttl: int, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if ttl < 1:
            raise ValueError("etcd lease TTLs are whole seconds, at least 1")
        self.client = client
        self.ttl = ttl
        self.clock = clock
        self.lease_id: int | None = None
        self.granted_ttl = ttl
        self._valid_until = 0.0

    async def grant(self) -> int:
        sent = self.clock()
        lease = await self.client.grant_lease(self.ttl)
        self.lease_id = lease.id
        self.granted_ttl = lease.ttl
        self._valid_until = sent + lease.ttl
        return lease.id

    @property
    def valid_until(self) -> float:
        """Local clock time until which the lease is surely alive."""
        return self._valid_until

    def alive(self) -> bool:
        return self.lease_id is not None and self.clock() < self._valid_until

    async def renew(self) -> bool:
        """One renewal; False when etcd says the lease is gone."""
        if self.lease_id is None:
            return False
        sent = self.clock()
        try:
            remaining = await self.client.keepalive(self.lease_id)
        except LeaseNotFoundError:
            remaining = 0
        if remaining <= 0:
            self._valid_until = 0.0
            return False
        self._valid_until = sent + remaining
        return True

    async def keep_alive(self) -> None:
        """Renew until the lease is lost (then return); retries while etcd is down."""
        interval = renew_interval(self.granted_ttl)
        while True:
            await asyncio.sleep(interval)
            try:
                if not await self.renew():
                    self.client.metrics.leases_lost.inc()
                    log.warning("lease_lost lease=%x", self.lease_id or 0)
                    return
            except EtcdUnavailableError as exc:
                log.debug("lease_renew_failed lease=%x: %s", self.lease_id or 0, exc)

    async def revoke(self) -> None:
        """Revoke now (every key bound to the lease is deleted at once)."""
        lease_id, self.lease_id = self.lease_id, None
        self._valid_until = 0.0
        if lease_id is not None:
            await self.client.revoke_lease(lease_id)
