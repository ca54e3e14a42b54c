"""Random ids for the hot path (request ids, trace ids), from a pooled CSPRNG read.

One ``os.urandom`` call fills a pool for 256 ids; each id is a slice of it.
That is cheaper than formatting a Mersenne-Twister integer per request and
the ids are as unpredictable as ``os.urandom`` makes them.
"""

from __future__ import annotations

import os
from typing import Final

_POOL_BYTES: Final = 4096


class _Pool:
    __slots__ = ("at", "data")

    def __init__(self) -> None:
        self.data = b""
        self.at = 0


_pool: Final = _Pool()


def random_16() -> bytes:
    """16 random bytes."""
    pool = _pool
    at = pool.at
    if at + 16 > len(pool.data):
        pool.data = os.urandom(_POOL_BYTES)
        at = 0
    pool.at = at + 16
    return pool.data[at : at + 16]


def new_hex_id() -> str:
    """128 random bits as 32 lower-case hex digits."""
    return random_16().hex()


def reseed_after_fork() -> None:
    """A forked worker must not hand out the ids its parent will also use."""
    _pool.data = b""
    _pool.at = 0


os.register_at_fork(after_in_child=reseed_after_fork)
