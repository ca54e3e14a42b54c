"""The cluster summary the leader publishes, and which keys count as stale (pure)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from zonegate.coordinator.records import NODE_SERVING, NodeInfo, ServiceEndpoint


def build_summary(
    nodes: Iterable[NodeInfo],
    services: Iterable[ServiceEndpoint],
    *,
    config_revision: int,
    leader: str,
    fencing_token: int,
    now: float,
) -> dict[str, Any]:
    """Zones with node counts and config convergence, services per zone, the leader.

    A zone (and the cluster) is ``converged`` when every node in it runs
    ``config_revision`` (the stored config's revision).
    """
    zones: dict[str, dict[str, Any]] = {}
    all_nodes = list(nodes)
    for node in all_nodes:
        zone = zones.setdefault(
            node.zone, {"nodes": 0, "serving": 0, "config_revisions": Counter()}
        )
        zone["nodes"] += 1
        zone["serving"] += node.state == NODE_SERVING
        zone["config_revisions"][node.config_revision] += 1
    for zone in zones.values():
        revisions: Counter[int] = zone["config_revisions"]
        zone["converged"] = set(revisions) == {config_revision}
        zone["config_revisions"] = {str(rev): n for rev, n in sorted(revisions.items())}
    per_service: dict[str, Counter[str]] = {}
    for endpoint in services:
        per_service.setdefault(endpoint.service, Counter())[endpoint.zone] += 1
    return {
        "updated_at": now,
        "leader": leader,
        "fencing_token": fencing_token,
        "config_revision": config_revision,
        "converged": all(z["converged"] for z in zones.values()),
        "nodes": len(all_nodes),
        "zones": dict(sorted(zones.items())),
        "services": {name: dict(sorted(c.items())) for name, c in sorted(per_service.items())},
    }


def stale_event_keys(
    keys: Iterable[str], prefix: str, *, now_ms: int, retention_ms: int, keep_max: int
) -> list[str]:
    """Annotation keys (``events/<ms>``) older than the retention, or beyond the newest
    ``keep_max``."""
    stamped: list[tuple[int, str]] = []
    for key in keys:
        stamp = key.removeprefix(prefix)
        if stamp.isdigit():
            stamped.append((int(stamp), key))
    stamped.sort(reverse=True)
    return [
        key
        for i, (stamp, key) in enumerate(stamped)
        if i >= keep_max or stamp < now_ms - retention_ms
    ]


def stale_ratelimit_keys(
    keys: Iterable[str], prefix: str, *, now_ms: int, grace_ms: int
) -> list[str]:
    """Rate-limit counters (``ratelimit/<limit>/<window-start-ms>/<node>``) of windows that
    started more than ``grace_ms`` ago; when the limit segment ends in ``:<window-ms>`` (the
    global limiter's do), more than two windows plus ``grace_ms`` ago (a window's counts
    matter until the next window ends)."""
    out = []
    for key in keys:
        parts = key.removeprefix(prefix).split("/")
        if len(parts) != 3 or not parts[1].isdigit():
            continue
        _, colon, window = parts[0].rpartition(":")
        keep_ms = grace_ms + (2 * int(window) if colon and window.isdigit() else 0)
        if int(parts[1]) < now_ms - keep_ms:
            out.append(key)
    return out


def counts(summary: Mapping[str, Any]) -> tuple[int, int]:
    """(nodes, serving nodes) over all zones of a summary."""
    zones = summary.get("zones", {})
    return (
        sum(int(z.get("nodes", 0)) for z in zones.values()),
        sum(int(z.get("serving", 0)) for z in zones.values()),
    )
