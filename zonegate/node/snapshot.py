"""An immutable, ready-to-serve view of one config revision.

A new config builds a new snapshot; the node swaps it in atomically and
requests in flight finish on the snapshot they started with. Upstream
clusters whose config did not change are carried over with their state
(health, ejections, pooled connections).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from zonegate.config.model import ClusterConfig
from zonegate.config.upstream import Cluster
from zonegate.node.delivery.error_pages import ErrorPageSet, build_error_pages
from zonegate.node.delivery.routing import RouteDelivery, build_deliveries
from zonegate.node.filters.base import Filter, FilterChain
from zonegate.node.filters.request_id import RequestIdFilter
from zonegate.node.router import Router
from zonegate.node.upstream.cluster import ClusterEvents, UpstreamCluster

RouteFilterBuilder = Callable[[ClusterConfig, str], Sequence[Filter]]
"""(config, route name) -> the route's filters, in order."""


class Snapshot:
    __slots__ = (
        "chains",
        "clusters",
        "config",
        "delivery",
        "entry_chain",
        "error_pages",
        "revision",
        "router",
    )

    def __init__(
        self,
        config: ClusterConfig,
        revision: int,
        router: Router,
        clusters: Mapping[str, UpstreamCluster],
        chains: Mapping[str, FilterChain],
        entry_chain: FilterChain,
        delivery: Mapping[str, RouteDelivery] | None = None,
        error_pages: Mapping[str, ErrorPageSet] | None = None,
    ) -> None:
        self.config = config
        self.revision = revision
        self.router = router
        self.clusters = dict(clusters)
        self.chains = dict(chains)
        self.entry_chain = entry_chain
        #: Routes with a split, canary rules or a mirror (others use route.upstream).
        self.delivery: dict[str, RouteDelivery] = dict(delivery or {})
        #: Custom error pages by route name; "" is the top level's.
        self.error_pages: dict[str, ErrorPageSet] = dict(error_pages or {})

    def pages_for(self, route: str) -> ErrorPageSet | None:
        """The error pages that apply to ``route`` (or to unrouted requests)."""
        pages = self.error_pages
        if not pages:
            return None
        return pages.get(route) or pages.get("")


def build_snapshot(
    config: ClusterConfig,
    revision: int,
    local_zone: str,
    *,
    previous: Snapshot | None = None,
    events: ClusterEvents | None = None,
    route_filters: RouteFilterBuilder | None = None,
    entry_filters: Sequence[Filter] = (),
) -> Snapshot:
    """Build a snapshot; unchanged clusters of ``previous`` are reused, not rebuilt."""
    clusters: dict[str, UpstreamCluster] = {}
    for cfg in config.clusters:
        old = previous.clusters.get(cfg.name) if previous is not None else None
        if old is not None and old.cfg == cfg:
            clusters[cfg.name] = old
        elif old is not None and _same_except_endpoints(old, cfg):
            old.cfg = cfg
            old.set_endpoints(cfg.endpoints)
            clusters[cfg.name] = old
        else:
            clusters[cfg.name] = UpstreamCluster(cfg, local_zone, events=events)
    chains = {
        route.name: FilterChain(route_filters(config, route.name) if route_filters else ())
        for route in config.routes
    }
    entry = FilterChain([RequestIdFilter(), *entry_filters])
    return Snapshot(
        config,
        revision,
        Router(config.routes),
        clusters,
        chains,
        entry,
        delivery=build_deliveries(config.routes, previous.delivery if previous else None),
        error_pages=build_error_pages(config),
    )


def retired_clusters(old: Snapshot, new: Snapshot) -> list[UpstreamCluster]:
    """Clusters of ``old`` that ``new`` no longer uses (to stop once idle)."""
    kept = {id(c) for c in new.clusters.values()}
    return [c for c in old.clusters.values() if id(c) not in kept]


def _same_except_endpoints(old: UpstreamCluster, cfg: Cluster) -> bool:
    return old.cfg.model_copy(update={"endpoints": cfg.endpoints}) == cfg
