"""Errors of the delivery package."""

from __future__ import annotations

from zonegate.node.errors import NodeError


class DeliveryError(NodeError):
    """Root of the delivery package's errors."""

    status = 500
    code = "delivery_error"


class DeliveryBuildError(DeliveryError):
    """A config's delivery parts cannot be built on this node (e.g. an unreadable page file)."""

    code = "delivery_config_invalid"


class CatalogError(DeliveryError):
    """The service catalog could not be assembled (no config, etcd unreachable ...)."""

    status = 503
    code = "catalog_unavailable"
