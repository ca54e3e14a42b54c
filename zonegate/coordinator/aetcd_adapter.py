"""Translation between zonegate's etcd types and the ``aetcd`` library.

With :mod:`zonegate.coordinator.client` the only place that imports ``aetcd``.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any, TypeVar

import aetcd
import aetcd.exceptions
import aetcd.rpc
import aetcd.utils

from zonegate.coordinator.etcd_types import Compare, Delete, KeyValue, Put, TxnOp

T = TypeVar("T")

GRPC_OPTIONS: dict[str, Any] = {
    # reconnect quickly once etcd is back (gRPC's default backoff grows to 120 s)
    "grpc.initial_reconnect_backoff_ms": 100,
    "grpc.min_reconnect_backoff_ms": 100,
    "grpc.max_reconnect_backoff_ms": 1000,
    # a new channel gets new subchannels, not a shared one still in backoff
    "grpc.use_local_subchannel_pool": 1,
    # etcd refuses pings more often than every 5 s (--grpc-keepalive-min-time)
    "grpc.keepalive_time_ms": 10_000,
    "grpc.keepalive_timeout_ms": 3_000,
}
NEVER_SENT = ("failed to connect", "connection refused", "no address", "dns resolution")


def to_kv(raw: Any) -> KeyValue:
    return KeyValue(
        key=bytes(raw.key).decode("utf-8", "replace"),
        value=bytes(raw.value),
        create_revision=int(raw.create_revision),
        mod_revision=int(raw.mod_revision),
        version=int(raw.version),
        lease=int(raw.lease),
    )


def to_compare(client: aetcd.Client, compare: Compare) -> Any:
    kinds = {
        "value": client.transactions.value,
        "version": client.transactions.version,
        "create": client.transactions.create,
        "mod": client.transactions.mod,
    }
    target = kinds[compare.target](compare.key.encode())
    if compare.op == "==":
        return target == compare.value
    if compare.op == "!=":
        return target != compare.value
    if compare.op == "<":
        return target < compare.value
    return target > compare.value


def to_op(client: aetcd.Client, op: TxnOp) -> Any:
    key = op.key.encode()
    end = aetcd.utils.prefix_range_end(key) if getattr(op, "prefix", False) else None
    if isinstance(op, Put):
        return client.transactions.put(key, op.value, lease=op.lease or None)
    if isinstance(op, Delete):
        return client.transactions.delete(key, range_end=end)
    return client.transactions.get(key, range_end=end)


async def rpc(call: Awaitable[T]) -> T:
    """Await a raw gRPC call, raising aetcd's exception types like its own methods."""
    try:
        return await call
    except aetcd.rpc.AioRpcError as exc:
        aetcd.exceptions._handle_exception(exc)
        raise


def short(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    if "connection refused" in text.lower():
        return "connection refused"
    return text if len(text) < 300 else text[:297] + "..."
