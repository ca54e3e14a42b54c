"""Where the catalog comes from: etcd (platform config + team fragments + node health),
or a config in hand (a file) with optional node admin URLs for health."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Protocol

from zonegate.config.model import ClusterConfig
from zonegate.coordinator.client import EtcdClient
from zonegate.coordinator.config_store import ConfigStore
from zonegate.coordinator.fragment_merge import merge
from zonegate.coordinator.fragments import FragmentStore
from zonegate.coordinator.keys import Keys
from zonegate.coordinator.records import NodeInfo
from zonegate.errors import ConfigError
from zonegate.node.delivery.catalog import Catalog, HealthView, SLOView, build_catalog
from zonegate.node.delivery.catalog_health import admin_url, fetch_statuses, health_view
from zonegate.node.delivery.errors import CatalogError


class CatalogSource(Protocol):
    async def catalog(self) -> Catalog: ...


async def _health(
    urls: Sequence[str], token: str | None
) -> tuple[HealthView | None, list[str], list[str]]:
    if not urls:
        return None, [], []
    statuses, errors = await fetch_statuses(urls, token=token)
    return (health_view(statuses) if statuses else None), list(urls), errors


class StaticCatalogSource:
    """A config in hand; health from the given node admin URLs (if any)."""

    def __init__(
        self,
        config: ClusterConfig,
        *,
        revision: int = 0,
        slos: Sequence[SLOView] = (),
        admin_urls: Sequence[str] = (),
        admin_token: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.revision = revision
        self.slos = tuple(slos)
        self.admin_urls = [admin_url(u) for u in admin_urls]
        self.admin_token = admin_token
        self.clock = clock

    async def catalog(self) -> Catalog:
        health, sources, errors = await _health(self.admin_urls, self.admin_token)
        return build_catalog(
            self.config,
            revision=self.revision,
            health=health,
            slos=self.slos,
            health_sources=sources,
            health_errors=errors,
            clock=self.clock,
        )


class EtcdCatalogSource:
    """The merged config of a cluster as nodes build it, health from its registered nodes."""

    def __init__(
        self,
        client: EtcdClient,
        keys: Keys,
        *,
        slos: Sequence[SLOView] = (),
        admin_urls: Sequence[str] = (),
        admin_token: str | None = None,
        discover_nodes: bool = True,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.client = client
        self.keys = keys
        self.slos = tuple(slos)
        self.admin_urls = [admin_url(u) for u in admin_urls]
        self.admin_token = admin_token
        self.discover_nodes = discover_nodes
        self.clock = clock

    async def node_admin_urls(self) -> list[str]:
        found = await self.client.get_prefix(self.keys.nodes_prefix)
        urls = []
        for kv in found.kvs:
            try:
                info = NodeInfo.from_json(kv.value)
            except ValueError:
                continue
            if info.admin_address:
                urls.append(admin_url(info.admin_address))
        return urls

    async def catalog(self) -> Catalog:
        stored = await ConfigStore(self.client, self.keys).current()
        if stored is None:
            raise CatalogError(
                f"no config is stored for cluster {self.keys.cluster!r} (zonegate config apply)"
            )
        fragments = await FragmentStore(self.client, self.keys).all()
        try:
            result = merge(stored.document, [f.input() for f in fragments.values()])
        except ConfigError as exc:
            raise CatalogError(
                f"the stored config of cluster {self.keys.cluster!r} is invalid: "
                + "; ".join(exc.problems)
            ) from None
        revision = max([stored.revision, *(f.revision for f in fragments.values())])
        urls = list(self.admin_urls)
        if self.discover_nodes:
            urls += [u for u in await self.node_admin_urls() if u not in urls]
        health, sources, errors = await _health(urls, self.admin_token)
        return build_catalog(
            result.config,
            revision=revision,
            health=health,
            slos=self.slos,
            dropped=result.dropped,
            health_sources=sources,
            health_errors=errors,
            clock=self.clock,
        )
