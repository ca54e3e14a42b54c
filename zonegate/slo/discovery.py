"""What the engine needs from etcd: the nodes to scrape and the drill annotations.

Both are plain callables, so the scraper and the dashboard work the same with
static targets, etcd, or anything else; etcd being down degrades to the last
known nodes and no annotations, never to an engine failure.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Protocol

from zonegate import conventions as cv
from zonegate.slo.charts import Annotation
from zonegate.slo.scraper import ScrapeTarget, TargetSource

log = logging.getLogger(__name__)
AnnotationSource = Callable[[float, float], Awaitable[list[Annotation]]]


class NodeInfo(Protocol):
    """What the engine reads of a node registration (``coordinator.records.NodeInfo``)."""

    @property
    def node_id(self) -> str: ...
    @property
    def zone(self) -> str: ...
    @property
    def address(self) -> str: ...
    @property
    def admin_address(self) -> str: ...


class NodeView(Protocol):
    """A discovery watcher's current view (``coordinator.discovery.PrefixWatcher``)."""

    @property
    def current(self) -> Mapping[str, NodeInfo]: ...


class StoredKey(Protocol):
    @property
    def key(self) -> str: ...
    @property
    def value(self) -> bytes: ...


class PrefixRead(Protocol):
    @property
    def kvs(self) -> Sequence[StoredKey]: ...


class EventReader(Protocol):
    """The part of ``coordinator.client.EtcdClient`` the annotations need."""

    async def get_prefix(self, prefix: str) -> PrefixRead: ...


def node_metrics_url(info: NodeInfo) -> str:
    address = info.admin_address or info.address
    if "://" not in address:
        address = f"http://{address}"
    return address.rstrip("/") + cv.ADMIN_METRICS


def etcd_targets(watcher: NodeView, extra: Sequence[ScrapeTarget] = ()) -> TargetSource:
    """Every node registered under ``nodes/`` (the watcher's current view) plus ``extra``."""

    async def source() -> Sequence[ScrapeTarget]:
        nodes = [
            ScrapeTarget(node_metrics_url(info), name=f"node/{info.zone}/{info.node_id}")
            for info in watcher.current.values()
        ]
        return sorted(nodes, key=lambda t: t.key) + list(extra)

    return source


def parse_event(key_ms: str, value: bytes) -> Annotation | None:
    """One ``events/<ms>`` value: JSON with ``title``/``text``/``message`` (and optionally
    ``end`` in seconds and ``kind``), or plain text."""
    try:
        at = int(key_ms) / 1000.0
    except ValueError:
        return None
    text = value.decode("utf-8", "replace")
    try:
        data = json.loads(text)
    except ValueError:
        return Annotation(at, text.strip()[:200])
    if not isinstance(data, dict):
        return Annotation(at, str(data)[:200])
    title = next(
        (str(data[k]) for k in ("title", "text", "message", "name", "experiment") if data.get(k)),
        "event",
    )
    end = data.get("end")
    return Annotation(
        at=float(data.get("at", at)),
        text=title[:200],
        end=float(end) if isinstance(end, int | float) else None,
        kind=str(data.get("kind", "event")),
    )


def etcd_annotations(client: EventReader, events_prefix: str) -> AnnotationSource:
    """Annotations from ``/zonegate/<cluster>/events/``, oldest first."""

    async def source(start: float, end: float) -> list[Annotation]:
        try:
            result = await client.get_prefix(events_prefix)
        except Exception as exc:
            log.warning("slo_annotations_unavailable", extra={"error": repr(exc)})
            return []
        out = []
        for kv in result.kvs:
            event = parse_event(kv.key.removeprefix(events_prefix), kv.value)
            if event is not None and start <= event.at <= end:
                out.append(event)
        return sorted(out, key=lambda a: a.at)

    return source


def static_annotations(annotations: Sequence[Annotation]) -> AnnotationSource:
    async def source(start: float, end: float) -> list[Annotation]:
        return [a for a in annotations if start <= a.at <= end]

    return source
