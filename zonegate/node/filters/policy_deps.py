"""What policy filters are built with: node identity, long-lived state, engine hooks.

:class:`PolicyState` lives as long as the node process (create one, pass it in
every snapshot's :class:`PolicyDeps`): it keeps the verified-API-key cache and
the rate limiters, so a config change neither re-runs the KDF for every client
nor hands out fresh quotas.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from zonegate.node.compose.executor import SendCall
from zonegate.node.policy.decision import Clock
from zonegate.node.policy.limiter import GlobalBackendFactory, LocalLimiterRegistry
from zonegate.node.policy.lru import BoundedLRU

KDF_CONCURRENCY = 2
FAILED_KEY_CACHE = 1024


class PolicyObserver(Protocol):
    """Counters for metrics (names in zonegate.conventions); must be cheap."""

    def auth_failed(self, route: str, method: str, reason: str) -> None: ...

    def rate_limit_decision(self, route: str, limit: str, decision: str) -> None: ...

    def composition_call(self, route: str, call: str, outcome: str, seconds: float) -> None: ...


class NullPolicyObserver:
    def auth_failed(self, route: str, method: str, reason: str) -> None:
        return None

    def rate_limit_decision(self, route: str, limit: str, decision: str) -> None:
        return None

    def composition_call(self, route: str, call: str, outcome: str, seconds: float) -> None:
        return None


class CountingPolicyObserver(NullPolicyObserver):
    """Keeps counts in dicts (tests, and the admin status page)."""

    def __init__(self) -> None:
        self.auth_failures: dict[tuple[str, str, str], int] = {}
        self.rate_limits: dict[tuple[str, str, str], int] = {}
        self.calls: dict[tuple[str, str, str], int] = {}

    def auth_failed(self, route: str, method: str, reason: str) -> None:
        key = (route, method, reason)
        self.auth_failures[key] = self.auth_failures.get(key, 0) + 1

    def rate_limit_decision(self, route: str, limit: str, decision: str) -> None:
        key = (route, limit, decision)
        self.rate_limits[key] = self.rate_limits.get(key, 0) + 1

    def composition_call(self, route: str, call: str, outcome: str, seconds: float) -> None:
        key = (route, call, outcome)
        self.calls[key] = self.calls.get(key, 0) + 1


class PolicyState:
    """Node-lifetime policy state shared by every snapshot's filters."""

    def __init__(self, clock: Clock = time.monotonic, api_key_cache_size: int = 10000) -> None:
        self.verified_keys: BoundedLRU[bytes, str] = BoundedLRU(api_key_cache_size)
        """blake2s(presented key) -> the stored hash it verified against."""
        self.failed_keys: BoundedLRU[bytes, str] = BoundedLRU(FAILED_KEY_CACHE)
        """blake2s(presented key) -> the stored hash it failed against."""
        self.pending_verifications: dict[tuple[bytes, str], asyncio.Future[bool]] = {}
        """Key derivations in flight, so a burst with one new key runs the KDF once."""
        self.limiters = LocalLimiterRegistry(clock)
        self._kdf_slots: asyncio.Semaphore | None = None
        self._snapshot: object | None = None
        self._memo: dict[str, Any] = {}

    def kdf_slots(self) -> asyncio.Semaphore:
        """Bounds concurrent key derivations (each holds a thread and ~16 MiB)."""
        if self._kdf_slots is None:
            self._kdf_slots = asyncio.Semaphore(KDF_CONCURRENCY)
        return self._kdf_slots

    def snapshot_memo(self, config: object) -> dict[str, Any]:
        """Things built once per config snapshot and shared by its routes."""
        if config is not self._snapshot:
            self._snapshot = config
            self._memo = {}
        return self._memo


@dataclass(frozen=True)
class PolicyDeps:
    node: str = ""
    zone: str = ""
    state: PolicyState = field(default_factory=PolicyState)
    send: SendCall | None = None
    """The engine's way to send one composition call; needed by aggregate routes."""
    global_rate_limits: GlobalBackendFactory | None = None
    """The coordinator's cluster-wide backend for ``scope: cluster`` limits."""
    observer: PolicyObserver = field(default_factory=NullPolicyObserver)
    clock: Clock = time.monotonic
    wall_clock: Clock = time.time
    environ: Mapping[str, str] = field(default_factory=lambda: os.environ)
