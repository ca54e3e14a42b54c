"""Key segments of the global rate limiter: ``ratelimit/<limit>/<window>/<node>``.

``<limit>`` is ``<route>:<limit-name>:<window-ms>`` (the leader's housekeeping reads
the window length from it), ``<node>`` is ``<node-id>@<zone>``. A value that does not
fit one segment is replaced by a digest (keeping the ``:<window-ms>`` suffix).
"""

from __future__ import annotations

import hashlib

from zonegate.coordinator.keys import segment


def _fit(value: str, suffix: str = "") -> str:
    """``value + suffix`` as one key segment; a digest of ``value`` when too long or
    not a valid segment (names are checked by the config, node ids may be anything)."""
    try:
        return segment(value + suffix)
    except ValueError:
        return segment(hashlib.blake2b(value.encode(), digest_size=12).hexdigest() + suffix)


def limit_segment(route: str, name: str, window_ms: int) -> str:
    """The ``<limit>`` key segment: route, limit name and window length (ms)."""
    return _fit(f"{route}:{name}", f":{window_ms}")


def node_segment(node_id: str, zone: str) -> str:
    """The ``<node-id>`` key segment: ``<node-id>@<zone>`` (node ids are unique per zone)."""
    return _fit(f"{node_id}@{zone}")


def window_ms_of(limit_segment: str) -> int | None:
    _, _, tail = limit_segment.rpartition(":")
    return int(tail) if tail.isdigit() and int(tail) > 0 else None
