"""Leader election with fencing: the etcd election recipe.

Each candidate grants a lease (TTL default 3 s), creates
``leader/<lease-id>`` with it if absent, and watches the ``leader/`` prefix:
the key with the lowest create revision is the leader, the others wait for
the keys created before theirs to go (lease expiry or revoke). Resigning
revokes the lease, so the next candidate takes over at once; a leader that
dies is replaced within the TTL (plus etcd's 0.5 s expiry check).

Fencing: the leader's *fencing token* is its key's create revision. Every
leader-only write (:meth:`Election.leader_txn`, :func:`fenced_txn`) is a
transaction that compares the leader key's create revision with the token,
so a leader that was paused past its TTL (and replaced) cannot write when it
wakes up: etcd refuses, :class:`FencedError` is raised and it steps down.
A leader also steps down by itself when its lease is no longer surely alive
(no renewal for a whole TTL).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from zonegate.coordinator.backoff import Backoff
from zonegate.coordinator.client import EtcdClient
from zonegate.coordinator.errors import (
    EtcdUnavailableError,
    FencedError,
    LeaseNotFoundError,
    NotLeaderError,
)
from zonegate.coordinator.etcd_types import (
    Compare,
    EventKind,
    Get,
    KeyValue,
    Put,
    Resync,
    TxnOp,
    TxnResult,
)
from zonegate.coordinator.keys import Keys
from zonegate.coordinator.lease import LeaseKeeper
from zonegate.coordinator.tasks import cancel_and_wait
from zonegate.coordinator.watch import watch_key

log = logging.getLogger(__name__)
DEFAULT_TTL = 3
OnLeadership = Callable[[bool], Awaitable[None] | None]


@dataclass(frozen=True, slots=True)
class LeaderInfo:
    """A candidate key under ``leader/``; the one with the lowest create revision leads."""

    key: str
    name: str
    create_revision: int
    lease: int

    @classmethod
    def from_kv(cls, kv: KeyValue) -> LeaderInfo:
        try:
            name = str(json.loads(kv.value).get("name", ""))
        except (ValueError, AttributeError):
            name = kv.text()
        return cls(kv.key, name, kv.create_revision, kv.lease)


def leader_of(candidates: Sequence[KeyValue]) -> LeaderInfo | None:
    """The candidate with the lowest create revision, if any."""
    if not candidates:
        return None
    return LeaderInfo.from_kv(min(candidates, key=lambda kv: kv.create_revision))


async def current_leader(client: EtcdClient, keys: Keys) -> LeaderInfo | None:
    """Who leads now (a one-off read, for status commands)."""
    return leader_of((await client.get_prefix(keys.leader_prefix)).kvs)


async def fenced_txn(
    client: EtcdClient, leader_key: str, token: int, ops: Sequence[TxnOp]
) -> TxnResult:
    """Apply ``ops`` only if ``leader_key`` still has create revision ``token``."""
    result = await client.txn([Compare(leader_key, "create", "==", token)], ops, retry_unknown=True)
    if not result.succeeded:
        client.metrics.fenced_writes.inc()
        raise FencedError(f"leadership moved on: fencing token {token} is stale")
    return result


class Election:
    """Campaign for leadership of one cluster until stopped."""

    def __init__(
        self,
        client: EtcdClient,
        keys: Keys,
        name: str,
        *,
        ttl: int = DEFAULT_TTL,
        on_leadership: OnLeadership | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.keys = keys
        self.name = name
        self.ttl = ttl
        self.on_leadership = on_leadership
        self.clock = clock
        self.leader: LeaderInfo | None = None  # as last observed
        self._key: str | None = None
        self._token = 0
        self._keeper: LeaseKeeper | None = None
        self._lost = asyncio.Event()
        self._state = asyncio.Condition()
        self._task: asyncio.Task[None] | None = None

    # --- state -----------------------------------------------------------------------
    @property
    def is_leader(self) -> bool:
        """Elected, and the lease is surely alive right now (checked on every call, so
        it turns false the moment a renewal is overdue, before the lease can expire)."""
        keeper = self._keeper
        return self._token != 0 and keeper is not None and keeper.alive()

    @property
    def fencing_token(self) -> int:
        """The leader key's create revision while leading, else 0."""
        return self._token

    @property
    def key(self) -> str | None:
        return self._key

    async def wait_until_leader(self, timeout: float | None = None) -> bool:
        return await self._wait(lambda: self.is_leader, timeout)

    async def wait_for_leader(self, timeout: float | None = None) -> LeaderInfo | None:
        """Wait until some leader is observed; returns it (None on timeout)."""
        await self._wait(lambda: self.leader is not None, timeout)
        return self.leader

    async def _wait(self, predicate: Callable[[], bool], timeout: float | None) -> bool:
        async def wait() -> None:
            async with self._state:
                await self._state.wait_for(predicate)

        try:
            async with asyncio.timeout(timeout):
                await wait()
        except TimeoutError:
            return False
        return True

    async def _changed(self) -> None:
        async with self._state:
            self._state.notify_all()

    async def _set_token(self, token: int) -> None:
        was, self._token = self._token != 0, token
        metrics = self.client.metrics
        metrics.is_leader.set(1 if token else 0)
        metrics.fencing_token.set(token)
        if was != (token != 0):
            log.info(
                "leadership_%s name=%s token=%d", "acquired" if token else "lost", self.name, token
            )
            if self.on_leadership is not None:
                try:
                    result = self.on_leadership(token != 0)
                    if inspect.isawaitable(result):
                        await result
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("leadership_callback_failed")
        await self._changed()

    async def _observe(self, leader: LeaderInfo | None) -> None:
        before = self.leader
        self.leader = leader
        if leader is not None and before is not None and leader.key != before.key:
            self.client.metrics.leader_changes.inc()
        await self._changed()

    # --- lifecycle ---------------------------------------------------------------------
    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self.run(), name=f"election {self.name}")

    async def resign(self) -> None:
        """Stop campaigning and give leadership up at once (revoke the lease)."""
        task, self._task = self._task, None
        if task is not None:
            await cancel_and_wait(task)
        await self._set_token(0)
        keeper, self._keeper = self._keeper, None
        self._key = None
        if keeper is not None:
            try:
                await keeper.revoke()
            except EtcdUnavailableError as exc:
                log.warning("resign_failed (leadership expires with the lease): %s", exc)

    stop = resign

    async def run(self) -> None:
        """Campaign, lead, and campaign again after losing the lease, until cancelled."""
        backoff = Backoff(0.1, 1.0)
        while True:
            try:
                await self._campaign()
                backoff.reset()
            except (EtcdUnavailableError, LeaseNotFoundError) as exc:
                log.debug("campaign_failed name=%s: %s", self.name, exc)
            await self._set_token(0)
            keeper, self._keeper = self._keeper, None
            self._key = None
            if keeper is not None:
                with contextlib.suppress(EtcdUnavailableError):
                    await keeper.revoke()  # let the next candidate in now, if still alive
            await asyncio.sleep(backoff.next())

    async def _campaign(self) -> None:
        keeper = LeaseKeeper(self.client, self.ttl, clock=self.clock)
        lease_id = await keeper.grant()
        self._keeper = keeper
        key = self.keys.leader_candidate(lease_id)
        value = json.dumps({"name": self.name, "campaigned_at": time.time()})
        created = await self.client.txn(
            [Compare(key, "create", "==", 0)], [Put(key, value.encode(), lease_id)], [Get(key)]
        )
        my_revision = created.revision if created.succeeded else created.gets[0][0].create_revision
        self._key = key
        self._lost.clear()
        tasks = {
            asyncio.create_task(keeper.keep_alive(), name="election-keepalive"),
            asyncio.create_task(self._follow(key, my_revision), name="election-observe"),
            asyncio.create_task(self._guard(keeper), name="election-guard"),
            asyncio.create_task(self._lost.wait(), name="election-fenced"),
        }
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()  # raise what failed
        finally:
            for task in tasks:
                await cancel_and_wait(task)

    async def _follow(self, key: str, my_revision: int) -> None:
        """Track the candidates; lead when ours is the oldest; return if ours is gone."""
        candidates: dict[str, KeyValue] = {}
        stream = watch_key(self.client, self.keys.leader_prefix, prefix=True)
        async with contextlib.aclosing(stream):
            async for item in stream:
                if isinstance(item, Resync):
                    candidates = dict(item.kvs)
                elif item.kind is EventKind.PUT:
                    candidates[item.kv.key] = item.kv
                else:
                    candidates.pop(item.kv.key, None)
                leader = leader_of(list(candidates.values()))
                await self._observe(leader)
                if key not in candidates:
                    log.warning("election_key_gone name=%s", self.name)
                    return
                keeper = self._keeper
                ours = leader is not None and leader.key == key
                if ours and keeper and keeper.alive() and not self._token:
                    await self._set_token(my_revision)

    async def _guard(self, keeper: LeaseKeeper) -> None:
        """Return (step down) when the lease is no longer surely alive."""
        while True:
            await asyncio.sleep(max(0.0, keeper.valid_until - self.clock()) + 0.01)
            if not keeper.alive():
                log.warning("lease_not_renewed name=%s: stepping down", self.name)
                return

    # --- fenced writes -----------------------------------------------------------------
    async def leader_txn(self, ops: Sequence[TxnOp]) -> TxnResult:
        """Apply ``ops`` only while this process still leads (fenced by etcd)."""
        token, key = self._token, self._key
        if not token or key is None:
            raise NotLeaderError(f"{self.name} is not the leader")
        try:
            return await fenced_txn(self.client, key, token, ops)
        except FencedError:
            if self._token == token:
                await self._set_token(0)
                self._lost.set()
            raise

    async def leader_write(self, key: str, value: bytes | str, *, lease: int = 0) -> int:
        """Write ``key`` as the leader; returns the revision. Raises NotLeader/FencedError."""
        data = value.encode() if isinstance(value, str) else value
        return (await self.leader_txn([Put(key, data, lease)])).revision
