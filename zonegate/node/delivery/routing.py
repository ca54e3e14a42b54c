"""Which cluster serves a request: canary rules first, then the weighted split.

:func:`build_deliveries` compiles, once per snapshot, the routes that have a
split, canary rules or a mirror; other routes keep using ``route.upstream``
and cost the proxy one failed dict lookup.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from zonegate.config.delivery import Mirror
from zonegate.config.routes import Route
from zonegate.node.context import RequestContext
from zonegate.node.delivery.canary import CompiledCanary, cookie_value
from zonegate.node.delivery.picker import SmoothWeightedPicker, sticky_point
from zonegate.node.http import Request
from zonegate.node.policy.identity import IDENTITY_ATTRIBUTE, Identity


class RouteMirror:
    """A route's mirror policy with its exact sampling accumulator."""

    __slots__ = ("_credit", "cfg", "cluster", "route")

    def __init__(self, route: str, cfg: Mirror) -> None:
        self.route = route
        self.cfg = cfg
        self.cluster = cfg.cluster
        self._credit = 0.0

    def due(self) -> bool:
        """True for exactly ``percent`` of calls, spread out (no randomness)."""
        percent = self.cfg.percent
        if percent >= 100.0:
            return True
        self._credit += percent
        if self._credit >= 100.0:
            self._credit -= 100.0
            return True
        return False


class RouteDelivery:
    """Cluster choice (and mirror policy) of one route in one snapshot."""

    __slots__ = (
        "canaries",
        "config",
        "default",
        "mirror",
        "needs_identity",
        "picker",
        "route",
        "sticky_cookie",
        "sticky_header",
    )

    def __init__(self, route: Route) -> None:
        self.config = route
        self.route = route.name
        self.default = route.upstream or ""
        self.canaries = tuple(CompiledCanary(rule) for rule in route.canary)
        #: A rule looks at the consumer: the choice waits for authentication.
        self.needs_identity = any(c.needs_identity for c in self.canaries)
        split = route.split
        self.picker: SmoothWeightedPicker[str] | None = None
        self.sticky_header: bytes | None = None
        self.sticky_cookie: bytes | None = None
        if split is not None:
            self.picker = SmoothWeightedPicker(
                [c.cluster for c in split.clusters], [c.weight for c in split.clusters]
            )
            if split.sticky is not None:
                header, cookie = split.sticky.header, split.sticky.cookie
                self.sticky_header = header.encode() if header else None
                self.sticky_cookie = cookie.encode() if cookie else None
        self.mirror = RouteMirror(route.name, route.mirror) if route.mirror is not None else None

    def choose(self, req: Request, ctx: RequestContext | None) -> str:
        """The cluster for ``req``; ``ctx`` carries the identity for consumer rules."""
        if self.canaries:
            identity = _identity(ctx) if self.needs_identity else None
            for rule in self.canaries:
                if rule.matches(req, identity):
                    return rule.cluster
        picker = self.picker
        if picker is None:
            return self.default
        if self.sticky_header is not None:
            key = req.header(self.sticky_header)
            if key:
                return picker.at(sticky_point(key))
        elif self.sticky_cookie is not None:
            key = cookie_value(req, self.sticky_cookie)
            if key:
                return picker.at(sticky_point(key))
        return picker.next()


def _identity(ctx: RequestContext | None) -> Identity | None:
    if ctx is None or ctx.attributes is None:
        return None
    found = ctx.attributes.get(IDENTITY_ATTRIBUTE)
    return found if isinstance(found, Identity) else None


def build_deliveries(
    routes: Sequence[Route], previous: Mapping[str, RouteDelivery] | None = None
) -> dict[str, RouteDelivery]:
    """Routes with a split, canary rules or a mirror, by name.

    A route whose config did not change keeps its delivery from ``previous``, so
    a config change elsewhere does not restart its weighted schedule (the split
    stays exact across snapshots) or its mirror sampling.
    """
    out: dict[str, RouteDelivery] = {}
    for route in routes:
        if not route.upstream or (route.split is None and not route.canary and not route.mirror):
            continue
        old = previous.get(route.name) if previous else None
        out[route.name] = old if old is not None and old.config == route else RouteDelivery(route)
    return out
