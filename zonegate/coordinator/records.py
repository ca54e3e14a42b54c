"""What nodes and backends publish in etcd (JSON values), and parsing it back."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

NODE_SERVING = "serving"
NODE_DRAINING = "draining"


def _load(data: bytes | str) -> dict[str, Any]:
    value = json.loads(data)
    if not isinstance(value, dict):
        raise ValueError("expected a JSON object")
    return value


@dataclass(frozen=True, slots=True)
class NodeInfo:
    """A gateway node's registration under ``nodes/<zone>/<node-id>``."""

    node_id: str
    zone: str
    address: str
    admin_address: str = ""
    version: str = ""
    started_at: float = 0.0
    config_revision: int = 0
    state: str = NODE_SERVING

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), sort_keys=True).encode()

    @classmethod
    def from_json(cls, data: bytes | str) -> NodeInfo:
        value = _load(data)
        try:
            return cls(
                node_id=str(value["node_id"]),
                zone=str(value["zone"]),
                address=str(value["address"]),
                admin_address=str(value.get("admin_address", "")),
                version=str(value.get("version", "")),
                started_at=float(value.get("started_at", 0.0)),
                config_revision=int(value.get("config_revision", 0)),
                state=str(value.get("state", NODE_SERVING)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"not a node registration: {exc}") from None


@dataclass(frozen=True, slots=True)
class ServiceEndpoint:
    """A backend instance under ``services/<service>/<zone>/<id>``."""

    service: str
    zone: str
    instance_id: str
    address: str
    metadata: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), sort_keys=True).encode()

    @classmethod
    def from_json(cls, data: bytes | str) -> ServiceEndpoint:
        value = _load(data)
        try:
            metadata = value.get("metadata") or {}
            if not isinstance(metadata, dict):
                raise TypeError("metadata must be an object")
            return cls(
                service=str(value["service"]),
                zone=str(value["zone"]),
                instance_id=str(value["instance_id"]),
                address=str(value["address"]),
                metadata={str(k): str(v) for k, v in metadata.items()},
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"not a service registration: {exc}") from None

    def __hash__(self) -> int:
        return hash((self.service, self.zone, self.instance_id, self.address))
