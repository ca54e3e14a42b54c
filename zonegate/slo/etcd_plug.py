"""Plug etcd into the SLO engine: node discovery for the scraper, drill annotations for
the dashboard (a ``cleanup_ctx`` for :func:`zonegate.slo.app.build_app`)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence

from aiohttp import web

from zonegate.coordinator.client import EtcdClient
from zonegate.coordinator.discovery import node_watcher
from zonegate.coordinator.keys import Keys
from zonegate.slo.app import OPTIONS
from zonegate.slo.discovery import etcd_annotations, etcd_targets
from zonegate.slo.scraper import ScrapeTarget


def etcd_context(
    endpoints: str, cluster: str, extra: Sequence[ScrapeTarget] = ()
) -> Callable[[web.Application], AsyncIterator[None]]:
    """A ``cleanup_ctx`` that connects to etcd and plugs node discovery and drill
    annotations into the engine's options (add it before the engine's context)."""

    async def context(app: web.Application) -> AsyncIterator[None]:
        keys = Keys(cluster)
        async with EtcdClient(endpoints) as client:
            watcher = node_watcher(client, keys)
            watcher.start()
            options = app[OPTIONS]
            options.targets = etcd_targets(watcher, extra)
            options.annotations = etcd_annotations(client, keys.events_prefix)
            try:
                yield
            finally:
                await watcher.stop()

    return context
