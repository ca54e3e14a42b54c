"""Plain data the etcd client wrapper speaks: key-values, events, transactions.

The rest of the coordinator uses these instead of the etcd library's types, so
only :mod:`zonegate.coordinator.client` imports ``aetcd``.
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass, field
from typing import Any, Literal

CompareOp = Literal["==", "!=", "<", ">"]
CompareTarget = Literal["value", "version", "create", "mod"]


@dataclass(frozen=True, slots=True)
class KeyValue:
    """One key as etcd stores it (revisions are cluster-wide, versions per key)."""

    key: str
    value: bytes
    create_revision: int
    mod_revision: int
    version: int
    lease: int = 0

    def text(self) -> str:
        return self.value.decode("utf-8", "replace")

    def json(self) -> Any:
        """The value parsed as JSON (raises ValueError when it is not)."""
        return json.loads(self.value)


@dataclass(frozen=True, slots=True)
class RangeResult:
    """Keys read at one store revision."""

    revision: int
    kvs: tuple[KeyValue, ...]

    def by_key(self) -> dict[str, KeyValue]:
        return {kv.key: kv for kv in self.kvs}


class EventKind(enum.Enum):
    PUT = "put"
    DELETE = "delete"


@dataclass(frozen=True, slots=True)
class WatchEvent:
    """A change of one key; for a delete, ``kv.value`` is empty and
    ``kv.mod_revision`` is the revision of the delete."""

    kind: EventKind
    kv: KeyValue

    @property
    def revision(self) -> int:
        return self.kv.mod_revision


@dataclass(frozen=True, slots=True)
class Resync:
    """The whole watched range, re-read at ``revision`` (start, or after compaction)."""

    revision: int
    kvs: dict[str, KeyValue] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Lease:
    id: int
    ttl: int


# --- transactions -----------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Compare:
    """``target(key) op value``, e.g. ``Compare(k, "mod", "==", 42)``.

    A key that does not exist has create/mod revision and version 0.
    """

    key: str
    target: CompareTarget
    op: CompareOp
    value: int | bytes


@dataclass(frozen=True, slots=True)
class Put:
    key: str
    value: bytes
    lease: int = 0


@dataclass(frozen=True, slots=True)
class Delete:
    key: str
    prefix: bool = False


@dataclass(frozen=True, slots=True)
class Get:
    key: str
    prefix: bool = False


TxnOp = Put | Delete | Get


@dataclass(frozen=True, slots=True)
class TxnResult:
    """Whether the compares held, the revision after the txn, and the results of
    its ``Get`` operations in order."""

    succeeded: bool
    revision: int
    gets: tuple[tuple[KeyValue, ...], ...] = ()


@dataclass(frozen=True, slots=True)
class MemberInfo:
    """One etcd cluster member as the cluster sees it."""

    id: int
    name: str
    client_urls: tuple[str, ...]
    is_leader: bool
