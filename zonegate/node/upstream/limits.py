"""Concurrency limits of a cluster (Envoy's circuit-breaker thresholds) and the retry budget.

Each ``try_acquire_*`` that returns True must be paired with exactly one ``release_*``
(in a ``finally``). A refused acquire counts an overflow, for metrics.
"""

from __future__ import annotations

from zonegate.config.routes import RetryBudget as RetryBudgetConfig
from zonegate.config.upstream import CircuitBreaker


class ResourceLimits:
    """Counters of open connections, pending requests, active requests and active retries."""

    __slots__ = (
        "connections",
        "connections_overflow",
        "max_connections",
        "max_pending",
        "max_requests",
        "max_retries",
        "pending",
        "pending_overflow",
        "release_underflows",
        "requests",
        "requests_overflow",
        "retries",
        "retries_overflow",
    )

    def __init__(self, cfg: CircuitBreaker) -> None:
        self.max_connections = self.max_pending = self.max_requests = self.max_retries = 0
        self.reconfigure(cfg)
        self.connections = self.pending = self.requests = self.retries = 0
        self.connections_overflow = self.pending_overflow = 0
        self.requests_overflow = self.retries_overflow = 0
        #: Releases without a matching acquire (a bug in the caller; the count stays >= 0).
        self.release_underflows = 0

    def reconfigure(self, cfg: CircuitBreaker) -> None:
        """New thresholds from a new config snapshot; in-flight counts are kept."""
        self.max_connections = cfg.max_connections
        self.max_pending = cfg.max_pending_requests
        self.max_requests = cfg.max_requests
        self.max_retries = cfg.max_retries

    def try_acquire_request(self) -> bool:
        if self.requests >= self.max_requests:
            self.requests_overflow += 1
            return False
        self.requests += 1
        return True

    def release_request(self) -> None:
        if self.requests > 0:
            self.requests -= 1
        else:
            self.release_underflows += 1

    def try_acquire_pending(self) -> bool:
        """A request waiting for a connection."""
        if self.pending >= self.max_pending:
            self.pending_overflow += 1
            return False
        self.pending += 1
        return True

    def release_pending(self) -> None:
        if self.pending > 0:
            self.pending -= 1
        else:
            self.release_underflows += 1

    def try_acquire_connection(self) -> bool:
        if self.connections >= self.max_connections:
            self.connections_overflow += 1
            return False
        self.connections += 1
        return True

    def release_connection(self) -> None:
        if self.connections > 0:
            self.connections -= 1
        else:
            self.release_underflows += 1

    def try_acquire_retry(self) -> bool:
        if self.retries >= self.max_retries:
            self.retries_overflow += 1
            return False
        self.retries += 1
        return True

    def release_retry(self) -> None:
        if self.retries > 0:
            self.retries -= 1
        else:
            self.release_underflows += 1


class RetryBudget:
    """Retries may be at most ``percent`` of active requests, but ``min_concurrency`` always."""

    __slots__ = ("_fraction", "min_concurrency", "percent")

    def __init__(self, cfg: RetryBudgetConfig) -> None:
        self.percent = cfg.percent
        self.min_concurrency = cfg.min_concurrency
        self._fraction = cfg.percent / 100.0

    def limit(self, active_requests: int) -> int:
        """How many retries may be in flight with ``active_requests`` (rounded down, as Envoy)."""
        return max(self.min_concurrency, int(self._fraction * active_requests))

    def allows(self, active_requests: int, active_retries: int) -> bool:
        """May one more retry start while ``active_retries`` are already in flight?"""
        return active_retries < max(self.min_concurrency, int(self._fraction * active_requests))
