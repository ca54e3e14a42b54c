"""THE etcd client: with its adapter, the only code of zonegate that imports ``aetcd``.

- every call has a timeout: ``timeout`` per attempt, and attempts stop after
  ``retry_for`` seconds (or after one round in which every endpoint refused
  a fresh connection: nothing is listening, so say so at once);
- several endpoints are tried in turn: a failed or slow endpoint's connection
  is closed (which also ends the watches on it, so they resume elsewhere) and
  the next endpoint becomes current;
- reads and idempotent writes are retried on the next endpoint whatever the
  failure; a transaction is retried only when its request cannot have reached
  etcd (connection refused), because a compare-and-swap whose outcome is
  unknown must not be silently applied twice;
- ``reachable`` (and the ``zonegate_etcd_reachable`` gauge) is the outcome of
  the last request or background probe (``probe_interval``; the probe also
  notices a member that is paused or lost its raft leader and moves away).

Watches: :meth:`EtcdClient.watch` opens one raw watch stream; the resuming,
re-reading helper built on it is :mod:`zonegate.coordinator.watch`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from types import TracebackType
from typing import Any, TypeVar

import aetcd
import aetcd.exceptions
import aetcd.rpc
import aetcd.utils

from zonegate.coordinator.aetcd_adapter import (
    GRPC_OPTIONS,
    NEVER_SENT,
    rpc,
    short,
    to_compare,
    to_kv,
    to_op,
)
from zonegate.coordinator.errors import (
    EtcdRequestError,
    EtcdUnavailableError,
    LeaseNotFoundError,
    WatchCompactedError,
)
from zonegate.coordinator.etcd_types import (
    Compare,
    EventKind,
    KeyValue,
    Lease,
    MemberInfo,
    RangeResult,
    TxnOp,
    TxnResult,
    WatchEvent,
)
from zonegate.coordinator.metrics import CoordinatorMetrics, default_metrics
from zonegate.coordinator.tasks import cancel_and_wait

log = logging.getLogger(__name__)
T = TypeVar("T")

DEFAULT_ENDPOINT = "127.0.0.1:2379"


def parse_endpoints(value: str | Sequence[str]) -> list[tuple[str, int]]:
    """``"a:2379,http://b:2379"`` or a list of those -> ``[(host, port), ...]``."""
    items = value.split(",") if isinstance(value, str) else list(value)
    out: list[tuple[str, int]] = []
    for raw in items:
        item = raw.strip()
        for scheme in ("http://", "https://"):
            item = item.removeprefix(scheme)
        item = item.rstrip("/")
        if not item:
            continue
        host, sep, port = item.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"invalid etcd endpoint {raw.strip()!r}: expected host:port")
        out.append((host, int(port)))
    if not out:
        raise ValueError("no etcd endpoint given")
    return out


class EtcdClient:
    """An etcd client over several endpoints; use as ``async with EtcdClient(...)``."""

    def __init__(
        self,
        endpoints: str | Sequence[str] = DEFAULT_ENDPOINT,
        *,
        timeout: float = 2.0,
        retry_for: float = 3.0,
        probe_interval: float | None = 1.0,
        metrics: CoordinatorMetrics | None = None,
    ) -> None:
        self._endpoints = parse_endpoints(endpoints)
        self.timeout = timeout
        self.retry_for = retry_for
        self.probe_interval = probe_interval
        self.metrics = metrics or default_metrics()
        self._index = 0
        self._client: aetcd.Client | None = None
        self._closed = False
        self._probe_task: asyncio.Task[None] | None = None
        self.reachable = False
        self.metrics.etcd_reachable.set(0)

    # --- lifecycle ----------------------------------------------------------------
    @property
    def endpoints(self) -> list[str]:
        return [f"{host}:{port}" for host, port in self._endpoints]

    @property
    def current_endpoint(self) -> str:
        host, port = self._endpoints[self._index]
        return f"{host}:{port}"

    @property
    def closed(self) -> bool:
        return self._closed

    async def __aenter__(self) -> EtcdClient:
        self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def start(self) -> None:
        """Start the background probe (no-op without ``probe_interval``)."""
        if self.probe_interval and self._probe_task is None:
            self._probe_task = asyncio.create_task(self._probe_loop(), name="etcd-probe")

    async def close(self) -> None:
        self._closed = True
        if self._probe_task is not None:
            await cancel_and_wait(self._probe_task)
            self._probe_task = None
        client, self._client = self._client, None
        if client is not None:
            await self._close_quietly(client)

    def _aclient(self) -> aetcd.Client:
        if self._closed:
            raise EtcdUnavailableError("etcd client is closed")
        if self._client is None:
            host, port = self._endpoints[self._index]
            self._client = aetcd.Client(
                host, port, timeout=self.timeout, options=GRPC_OPTIONS, connect_wait_timeout=3
            )
        return self._client

    async def _close_quietly(self, client: aetcd.Client) -> None:
        try:
            async with asyncio.timeout(self.timeout):
                await client.close()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.debug("etcd_client_close_failed", exc_info=exc)

    async def _switch_from(self, failed: aetcd.Client) -> None:
        """Drop the connection that failed and make the next endpoint current."""
        if self._client is not failed:
            return  # somebody already moved on
        self._client = None
        if len(self._endpoints) > 1:
            self._index = (self._index + 1) % len(self._endpoints)
            self.metrics.endpoint_switches.inc()
        await self._close_quietly(failed)

    def _set_reachable(self, value: bool) -> None:
        if value != self.reachable:
            log.info("etcd_reachable" if value else "etcd_unreachable")
        self.reachable = value
        self.metrics.etcd_reachable.set(1 if value else 0)

    # --- the retry loop -------------------------------------------------------------
    async def _call(
        self, op: str, fn: Callable[[aetcd.Client], Awaitable[T]], *, retry_unknown: bool = True
    ) -> T:
        """Run ``fn`` on the current endpoint, failing over as described above.

        Attempts go round the endpoints until ``retry_for`` seconds have passed
        (a raft election makes every member refuse for a moment), except that
        a round in which every endpoint refused the connection ends it at once.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.retry_for
        problems: list[str] = []
        refused_in_round = 0
        attempts = 0
        while True:
            # a channel made before this call may still be in gRPC's reconnect
            # backoff and answer "connection refused" from memory: only a
            # refusal on a fresh channel says nothing is listening now
            fresh = self._client is None
            client = self._aclient()
            endpoint = self.current_endpoint
            attempts += 1
            try:
                # asyncio.timeout, not wait_for: 3.11's wait_for can swallow a cancel
                async with asyncio.timeout(self.timeout):
                    result = await fn(client)
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if (task is not None and task.cancelling()) or client is self._client:
                    raise
                # gRPC cancels the calls of a channel that a failover closed
                problems.append(f"{endpoint}: connection closed")
                if not retry_unknown:
                    break
            except (TimeoutError, aetcd.ConnectionTimeoutError, aetcd.WatchTimeoutError):
                problems.append(f"{endpoint}: no answer within {self.timeout:g}s")
                await self._switch_from(client)
                if not retry_unknown:
                    break
            except aetcd.ConnectionFailedError as exc:
                problems.append(f"{endpoint}: {short(exc)}")
                await self._switch_from(client)
                never_sent = any(s in str(exc).lower() for s in NEVER_SENT)
                refused_in_round += never_sent and fresh
                if not retry_unknown and not never_sent:
                    break
            except aetcd.ClientError as exc:
                if "lease not found" in str(exc):
                    self._count(op, "error", reachable=True)
                    raise LeaseNotFoundError(str(exc)) from None
                if client is self._client:
                    self._count(op, "error", reachable=True)
                    raise EtcdRequestError(f"etcd {op} failed: {short(exc)}") from None
                problems.append(f"{endpoint}: connection closed")  # by a failover
            except Exception as exc:  # a channel closed under a running call
                if client is self._client:
                    self._count(op, "error", reachable=True)
                    raise EtcdRequestError(f"etcd {op} failed: {exc!r}") from exc
                problems.append(f"{endpoint}: connection closed")
            else:
                self._count(op, "ok", reachable=True)
                return result
            if attempts % len(self._endpoints) == 0:
                if refused_in_round == len(self._endpoints) or loop.time() >= deadline:
                    break
                refused_in_round = 0
                await asyncio.sleep(0.05)
        self._count(op, "unavailable", reachable=False)
        detail = "; ".join(dict.fromkeys(problems[-len(self._endpoints) :]))
        if not retry_unknown:
            raise EtcdUnavailableError(
                f"etcd {op} did not complete ({detail}); it may or may not have been applied"
            )
        raise EtcdUnavailableError(f"cannot reach etcd ({detail})")

    def _count(self, op: str, outcome: str, *, reachable: bool) -> None:
        self.metrics.etcd_requests.labels(op, outcome).inc()
        self._set_reachable(reachable)

    async def _probe_loop(self) -> None:
        assert self.probe_interval
        while not self._closed:
            try:
                await self.probe()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.debug("etcd_probe_failed", exc_info=exc)
            await asyncio.sleep(self.probe_interval)

    async def probe(self) -> int:
        """Ask the current member for its status; returns its raft leader id.

        A member without a leader counts as failed (it cannot serve
        linearizable reads or keep watches current), so the client moves on.
        """

        async def status(client: aetcd.Client) -> int:
            await client.connect()
            response = await rpc(
                client.maintenancestub.Status(
                    aetcd.rpc.StatusRequest(), timeout=self.timeout, metadata=client.metadata
                )
            )
            if not response.leader:
                raise aetcd.ConnectionFailedError("etcd member has no raft leader")
            return int(response.leader)

        return await self._call("status", status)

    # --- key-value --------------------------------------------------------------------
    async def get(self, key: str) -> KeyValue | None:
        async def run(client: aetcd.Client) -> KeyValue | None:
            found = await client.get(key.encode())
            return to_kv(found) if found is not None else None

        return await self._call("get", run)

    async def read(self, key: str, *, prefix: bool = False) -> RangeResult:
        """``key`` (or every key under it, sorted) and the store revision read at."""
        raw = key.encode()

        async def run(client: aetcd.Client) -> RangeResult:
            await client.connect()
            request = client._build_get_range_request(
                raw,
                range_end=aetcd.utils.prefix_range_end(raw) if prefix else None,
                sort_order="ascend" if prefix else None,
            )
            response = await rpc(
                client.kvstub.Range(request, timeout=self.timeout, metadata=client.metadata)
            )
            return RangeResult(
                int(response.header.revision), tuple(to_kv(kv) for kv in response.kvs)
            )

        return await self._call("range", run)

    async def get_prefix(self, prefix: str) -> RangeResult:
        """Every key under ``prefix`` (sorted by key) and the store revision read at."""
        return await self.read(prefix, prefix=True)

    async def put(self, key: str, value: bytes | str, *, lease: int = 0) -> int:
        """Write ``key``; returns the revision of the write."""
        data = value.encode() if isinstance(value, str) else value

        async def run(client: aetcd.Client) -> int:
            result = await client.put(key.encode(), data, lease=lease or None)
            return int(result.header.revision)

        return await self._call("put", run)

    async def delete(self, key: str, *, prefix: bool = False) -> int:
        """Delete ``key`` (or every key under it); returns how many were deleted."""

        async def run(client: aetcd.Client) -> int:
            if prefix:
                result = await client.delete_prefix(key.encode())
                return int(result.deleted)
            one = await client.delete(key.encode())
            return int(one.deleted) if one is not None else 0

        return await self._call("delete", run)

    async def txn(
        self,
        compare: Sequence[Compare],
        success: Sequence[TxnOp],
        failure: Sequence[TxnOp] = (),
        *,
        retry_unknown: bool = False,
    ) -> TxnResult:
        """One transaction: if all ``compare`` hold, apply ``success``, else ``failure``."""

        async def run(client: aetcd.Client) -> TxnResult:
            await client.connect()
            request = aetcd.rpc.TxnRequest(
                compare=[to_compare(client, c).build_message() for c in compare],
                success=client._ops_to_requests([to_op(client, o) for o in success]),
                failure=client._ops_to_requests([to_op(client, o) for o in failure]),
            )
            response = await rpc(
                client.kvstub.Txn(request, timeout=self.timeout, metadata=client.metadata)
            )
            gets = tuple(
                tuple(to_kv(kv) for kv in item.response_range.kvs)
                for item in response.responses
                if item.WhichOneof("response") == "response_range"
            )
            return TxnResult(bool(response.succeeded), int(response.header.revision), gets)

        return await self._call("txn", run, retry_unknown=retry_unknown)

    async def compact(self, revision: int) -> None:
        """Discard history before ``revision`` (physically, so watches notice)."""
        await self._call("compact", lambda c: c.compact(revision, physical=True))

    # --- leases ------------------------------------------------------------------------
    async def grant_lease(self, ttl: int) -> Lease:
        async def run(client: aetcd.Client) -> Lease:
            lease = await client.lease(ttl)
            return Lease(int(lease.id), int(lease.ttl))

        return await self._call("lease_grant", run)

    async def keepalive(self, lease_id: int) -> int:
        """Renew a lease once; returns its remaining TTL (<= 0: it is gone)."""

        async def run(client: aetcd.Client) -> int:
            reply = await client.refresh_lease(lease_id)
            return int(reply.TTL) if reply is not None else 0

        return await self._call("lease_keepalive", run)

    async def revoke_lease(self, lease_id: int) -> None:
        """Revoke a lease (its keys go at once); a lease already gone is fine."""
        try:
            await self._call("lease_revoke", lambda c: c.revoke_lease(lease_id))
        except LeaseNotFoundError:
            return

    # --- cluster -----------------------------------------------------------------------
    async def members(self) -> list[MemberInfo]:
        leader = await self.probe()

        async def run(client: aetcd.Client) -> list[MemberInfo]:
            return [
                MemberInfo(int(m.id), str(m.name), tuple(m.client_urls), int(m.id) == leader)
                async for m in client.members()
            ]

        return await self._call("members", run)

    # --- watch -------------------------------------------------------------------------
    @contextlib.asynccontextmanager
    async def watch(
        self, key: str, *, prefix: bool = False, start_revision: int | None = None
    ) -> AsyncIterator[AsyncIterator[WatchEvent]]:
        """One raw watch stream on the current endpoint.

        The events iterator ends when the connection is dropped by a failover
        or :meth:`close`, raises :class:`EtcdUnavailableError` when the stream
        fails, and :class:`WatchCompactedError` when ``start_revision`` is
        compacted. Prefer :func:`zonegate.coordinator.watch.watch_key`.
        """
        raw_key = key.encode()
        end = aetcd.utils.prefix_range_end(raw_key) if prefix else None
        holder: dict[str, aetcd.Client] = {}

        async def create(client: aetcd.Client) -> Any:
            holder["client"] = client
            return await client.watch(raw_key, range_end=end, start_revision=start_revision)

        stream = await self._call("watch", create)
        client = holder["client"]
        try:
            yield self._events(stream, client)
        finally:
            if self._client is client:
                with contextlib.suppress(Exception):
                    async with asyncio.timeout(self.timeout):
                        await stream.cancel()

    async def _events(self, stream: Any, client: aetcd.Client) -> AsyncIterator[WatchEvent]:
        try:
            async for event in stream:
                kind = EventKind.PUT if event.kind == "PUT" else EventKind.DELETE
                yield WatchEvent(kind, to_kv(event.kv))
        except aetcd.RevisionCompactedError as exc:
            raise WatchCompactedError(int(exc.compacted_revision)) from None
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            await self._switch_from(client)
            raise EtcdUnavailableError(f"watch stream failed: {short(exc)}") from None
