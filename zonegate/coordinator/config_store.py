"""The cluster config in etcd: apply (compare-and-swap), show, history, rollback.

The config key holds a JSON envelope ``{"config": {...}, "applied_by": ...,
"applied_at": ..., "message": ...}``; a bare config document (written with
``etcdctl``) is read too. Every apply is one transaction that

- compares the config key's mod revision with the one the change is based on
  (``expect_revision``, else the one read just before), so two operators
  cannot overwrite each other silently: the second gets a
  :class:`ConfigConflictError` naming who applied what revision, when;
- writes the config and a copy under ``config-history/<version>``, and
  deletes the copy ``keep`` versions older (the last ``keep`` stay).

A revision is the etcd revision of the write; ``rollback(REV)`` applies the
config of revision REV again, as a new revision.
"""

from __future__ import annotations

import getpass
import json
import socket
import time
from dataclasses import dataclass
from typing import Any

from zonegate.config.loader import config_to_json, parse_config
from zonegate.config.model import ClusterConfig
from zonegate.coordinator.client import EtcdClient
from zonegate.coordinator.errors import ConfigConflictError, RevisionNotFoundError
from zonegate.coordinator.etcd_types import Compare, Delete, Get, KeyValue, Put
from zonegate.coordinator.keys import Keys

DEFAULT_KEEP = 10


def default_author() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


@dataclass(frozen=True, slots=True)
class StoredConfig:
    """One config as stored: the document and who applied it, when."""

    revision: int
    version: int
    document: dict[str, Any]
    applied_by: str = ""
    applied_at: float = 0.0
    message: str = ""

    def describe(self) -> str:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.applied_at))
        who = self.applied_by or "an unknown writer"
        stamp = f" at {when}" if self.applied_at else ""
        return f"revision {self.revision}, applied by {who}{stamp}"

    def config(self) -> ClusterConfig:
        """Validate the document (raises :class:`~zonegate.errors.ConfigError`)."""
        return parse_config(self.document)


def encode(document: dict[str, Any], applied_by: str, message: str, now: float) -> bytes:
    envelope = {
        "config": document,
        "applied_by": applied_by,
        "applied_at": now,
        "message": message,
    }
    return json.dumps(envelope, sort_keys=True).encode()


def decode(kv: KeyValue) -> StoredConfig:
    """Parse a stored value (envelope or bare document); ValueError if not a JSON object."""
    try:
        value = json.loads(kv.value)
    except ValueError as exc:
        raise ValueError(f"not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise ValueError("not a JSON object")
    if isinstance(value.get("config"), dict) and "version" not in value:
        return StoredConfig(
            revision=kv.mod_revision,
            version=kv.version,
            document=value["config"],
            applied_by=str(value.get("applied_by", "")),
            applied_at=float(value.get("applied_at") or 0.0),
            message=str(value.get("message", "")),
        )
    return StoredConfig(kv.mod_revision, kv.version, value)


def decode_lenient(kv: KeyValue) -> StoredConfig:
    """Like :func:`decode`, but garbage becomes an empty document (so it can be replaced)."""
    try:
        return decode(kv)
    except ValueError:
        return StoredConfig(kv.mod_revision, kv.version, {}, message="(not a JSON object)")


class ConfigStore:
    """Versioned cluster config under one cluster's keys."""

    def __init__(self, client: EtcdClient, keys: Keys, *, keep: int = DEFAULT_KEEP) -> None:
        if keep < 1:
            raise ValueError("keep at least one config version")
        self.client = client
        self.keys = keys
        self.keep = keep

    async def current(self) -> StoredConfig | None:
        kv = await self.client.get(self.keys.config)
        return decode_lenient(kv) if kv is not None else None

    async def apply(
        self,
        config: ClusterConfig,
        *,
        expect_revision: int | None = None,
        applied_by: str | None = None,
        message: str = "",
    ) -> tuple[StoredConfig, bool]:
        """Write ``config``; returns ``(stored, changed)`` (unchanged: nothing written).

        ``expect_revision``: the revision the change is based on (0: no config
        yet); without it, the revision read just before writing.
        """
        if config.cluster != self.keys.cluster:
            raise ValueError(
                f"the config is for cluster {config.cluster!r}, not {self.keys.cluster!r}"
            )
        document = json.loads(config_to_json(config))
        kv = await self.client.get(self.keys.config)
        current = decode_lenient(kv) if kv is not None else None
        base = kv.mod_revision if kv is not None else 0
        if expect_revision is not None and expect_revision != base:
            raise self._conflict(current, expect_revision)
        if current is not None and current.document == document:
            return current, False
        version = (kv.version if kv is not None else 0) + 1
        author = applied_by or default_author()
        now = time.time()
        value = encode(document, author, message, now)
        ops: list[Put | Delete] = [
            Put(self.keys.config, value),
            Put(self.keys.config_history(version), value),
        ]
        if version > self.keep:
            ops.append(Delete(self.keys.config_history(version - self.keep)))
        result = await self.client.txn(
            [Compare(self.keys.config, "mod", "==", base)], ops, [Get(self.keys.config)]
        )
        if not result.succeeded:
            now_stored = result.gets[0] if result.gets else ()
            raise self._conflict(decode_lenient(now_stored[0]) if now_stored else None, base)
        return StoredConfig(result.revision, version, document, author, now, message), True

    def _conflict(self, current: StoredConfig | None, based_on: int) -> ConfigConflictError:
        if current is None:
            return ConfigConflictError(
                f"conflict: expected config revision {based_on}, but no config is stored; "
                "apply with --expect-revision 0 (or without it)"
            )
        return ConfigConflictError(
            f"conflict: the config changed since revision {based_on}: it is now at "
            f"{current.describe()}. Review it (zonegate config show) and apply again with "
            f"--expect-revision {current.revision}"
        )

    async def history(self) -> list[StoredConfig]:
        """The kept versions, newest first."""
        found = await self.client.get_prefix(self.keys.config_history_prefix)
        out: list[StoredConfig] = []
        for kv in found.kvs:
            try:
                out.append(decode(kv))
            except ValueError:
                continue
        out.sort(key=lambda stored: stored.revision, reverse=True)
        return out[: self.keep]

    async def at_revision(self, revision: int) -> StoredConfig:
        current = await self.current()
        if current is not None and current.revision == revision:
            return current
        history = await self.history()
        for stored in history:
            if stored.revision == revision:
                return stored
        known = ", ".join(str(s.revision) for s in history) or "none"
        raise RevisionNotFoundError(
            f"config revision {revision} is not in the history (kept revisions: {known})"
        )

    async def rollback(
        self,
        revision: int,
        *,
        expect_revision: int | None = None,
        applied_by: str | None = None,
    ) -> tuple[StoredConfig, bool]:
        """Apply the config of ``revision`` again (validated first) as a new revision."""
        old = await self.at_revision(revision)
        return await self.apply(
            old.config(),
            expect_revision=expect_revision,
            applied_by=applied_by,
            message=f"rollback to revision {revision}",
        )
