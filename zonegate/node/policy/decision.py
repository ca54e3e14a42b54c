"""The answer of a rate limiter for one request, and the limit it came from."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Literal

Clock = Callable[[], float]
EPSILON: Final = 1e-9
"""Tolerance for float time arithmetic (0.1 * 3 != 0.3)."""


@dataclass(frozen=True, slots=True)
class LimitSpec:
    """A rate limit as the algorithms see it (built from the config model)."""

    name: str
    algorithm: Literal["token_bucket", "sliding_window"]
    requests: int
    period_s: float
    burst: int
    max_keys: int
    scope: Literal["node", "cluster"] = "node"

    @property
    def capacity(self) -> int:
        """Most requests allowed at once: the bucket size or the window's quota."""
        return self.burst if self.algorithm == "token_bucket" else self.requests


class Decision:
    """Allowed or not, plus what the RateLimit-* headers report."""

    __slots__ = ("allowed", "limit", "remaining", "reset_s", "retry_after_s")

    def __init__(
        self, allowed: bool, limit: int, remaining: int, reset_s: float, retry_after_s: float
    ) -> None:
        self.allowed = allowed
        self.limit = limit
        self.remaining = remaining
        self.reset_s = reset_s
        self.retry_after_s = retry_after_s

    def __repr__(self) -> str:
        return (
            f"Decision(allowed={self.allowed}, limit={self.limit}, remaining={self.remaining}, "
            f"reset_s={self.reset_s:.3f}, retry_after_s={self.retry_after_s:.3f})"
        )

    @property
    def reset_seconds(self) -> int:
        """RateLimit-Reset: whole seconds until the full quota is back."""
        return max(0, math.ceil(self.reset_s - EPSILON))

    @property
    def retry_after_seconds(self) -> int:
        """Retry-After: whole seconds, at least 1."""
        return max(1, math.ceil(self.retry_after_s - EPSILON))
