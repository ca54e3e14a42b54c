"""Writing the rendered gateway config to etcd (the ``config applied`` phase)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from zonegate.cluster.errors import ProcessStartError
from zonegate.errors import ZonegateError


async def apply_gateway_config(endpoints: Sequence[str], gateway: dict[str, Any]) -> str:
    """Apply ``gateway`` through the coordinator's config store; returns a line for the user."""
    from zonegate.config.loader import parse_config
    from zonegate.coordinator.client import EtcdClient
    from zonegate.coordinator.config_store import ConfigStore
    from zonegate.coordinator.keys import Keys

    config = parse_config(gateway)
    try:
        async with EtcdClient(list(endpoints), timeout=2.0, probe_interval=None) as client:
            store = ConfigStore(client, Keys(config.cluster))
            stored, _ = await store.apply(config, applied_by="zonegate up", message="zonegate up")
    except ZonegateError as exc:
        raise ProcessStartError(f"cannot write the config to etcd: {exc.message}") from None
    return f"config applied to etcd as revision {stored.revision} (cluster {config.cluster!r})"
