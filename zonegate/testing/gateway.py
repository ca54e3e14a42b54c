"""Small helpers for tests that run a gateway node in front of test backends."""

from __future__ import annotations

from typing import Any

from zonegate.node.runtime import GatewayNode


def simple_config(*addresses: str, **route: Any) -> dict[str, Any]:
    """One cluster ``app`` with the given endpoints and one catch-all route."""
    return {
        "clusters": [
            {
                "name": "app",
                "endpoints": [{"address": a, "zone": "zone-a"} for a in addresses],
            }
        ],
        "routes": [{"name": "all", "upstream": "app", **route}],
    }


def url(node: GatewayNode, path: str = "/") -> str:
    assert node.address is not None
    return f"http://{node.address[0]}:{node.address[1]}{path}"
