"""Where the demo backends keep shared state: etcd (shared across zones) or memory.

Keys live under ``/zonegate/<cluster>/demo/<service>/`` in etcd, next to the
cluster's own keys, so one ``zonegate down`` (or a prefix delete) clears them.
"""

from __future__ import annotations

import json
import time
from typing import Any, Protocol

JSON = dict[str, Any]


class Store(Protocol):
    """A small JSON key-value store."""

    async def get(self, key: str) -> JSON | None: ...

    async def put(self, key: str, value: JSON) -> None: ...

    async def create(self, key: str, value: JSON) -> JSON | None:
        """Write ``key`` only if absent: ``None`` on success, else the existing value."""
        ...

    async def delete(self, key: str) -> bool: ...

    async def list(self, prefix: str, limit: int = 100) -> list[JSON]: ...

    async def close(self) -> None: ...


class MemoryStore:
    """One instance's own memory (state is not shared across zones)."""

    def __init__(self) -> None:
        self.data: dict[str, JSON] = {}

    async def get(self, key: str) -> JSON | None:
        return self.data.get(key)

    async def put(self, key: str, value: JSON) -> None:
        self.data[key] = value

    async def create(self, key: str, value: JSON) -> JSON | None:
        if key in self.data:
            return self.data[key]
        self.data[key] = value
        return None

    async def delete(self, key: str) -> bool:
        return self.data.pop(key, None) is not None

    async def list(self, prefix: str, limit: int = 100) -> list[JSON]:
        keys = sorted(k for k in self.data if k.startswith(prefix))
        return [self.data[k] for k in keys[:limit]]

    async def close(self) -> None:
        return None


class EtcdStore:
    """State in etcd through the coordinator's client (survives the loss of a zone)."""

    def __init__(self, endpoints: str, cluster: str, service: str) -> None:
        from zonegate.coordinator.client import EtcdClient
        from zonegate.coordinator.keys import Keys

        self.client = EtcdClient(endpoints, timeout=1.0, retry_for=2.0)
        self.prefix = f"{Keys(cluster).root}demo/{service}/"

    def start(self) -> None:
        self.client.start()

    async def get(self, key: str) -> JSON | None:
        kv = await self.client.get(self.prefix + key)
        return _load(kv.value) if kv is not None else None

    async def put(self, key: str, value: JSON) -> None:
        await self.client.put(self.prefix + key, json.dumps(value))

    async def create(self, key: str, value: JSON) -> JSON | None:
        from zonegate.coordinator.etcd_types import Compare, Get, Put

        full = self.prefix + key
        result = await self.client.txn(
            [Compare(full, "create", "==", 0)],
            [Put(full, json.dumps(value).encode())],
            [Get(full)],
        )
        if result.succeeded:
            return None
        found = result.gets[0] if result.gets else ()
        return _load(found[0].value) if found else {}

    async def delete(self, key: str) -> bool:
        return await self.client.delete(self.prefix + key) > 0

    async def list(self, prefix: str, limit: int = 100) -> list[JSON]:
        result = await self.client.get_prefix(self.prefix + prefix)
        return [_load(kv.value) for kv in result.kvs[:limit]]

    async def close(self) -> None:
        await self.client.close()


def _load(raw: bytes) -> JSON:
    value = json.loads(raw)
    return value if isinstance(value, dict) else {"value": value}


def now() -> float:
    return time.time()
