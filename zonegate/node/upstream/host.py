"""One upstream host: its identity from config plus the runtime state the data plane updates."""

from __future__ import annotations

from zonegate.config.upstream import Endpoint


class Host:
    """An upstream host. Compared and hashed by identity, so it can key dicts and sets cheaply.

    ``health_ok`` is the active health checker's verdict; ``ejected_until`` is set by the
    outlier detector. The counters are updated on the hot path by the proxy and the detector.
    """

    __slots__ = (
        "active_requests",
        "address",
        "consecutive_5xx",
        "consecutive_local_failures",
        "ejected_until",
        "ejection_count",
        "health_ok",
        "host",
        "port",
        "weight",
        "zone",
    )

    def __init__(self, address: str, host: str, port: int, zone: str = "", weight: int = 1) -> None:
        self.address = address
        self.host = host
        self.port = port
        self.zone = zone
        self.weight = weight
        self.health_ok = True
        self.ejected_until = 0.0
        self.ejection_count = 0
        self.active_requests = 0
        self.consecutive_5xx = 0
        self.consecutive_local_failures = 0

    @classmethod
    def from_endpoint(cls, ep: Endpoint) -> Host:
        """A fresh host (healthy, never ejected) for a configured endpoint."""
        return cls(ep.address, ep.host, ep.port, ep.zone, ep.weight)

    @classmethod
    def parse(cls, address: str, zone: str = "", weight: int = 1) -> Host:
        """A host from ``host:port`` (``[v6]:port`` works too); raises ValueError when malformed."""
        name, sep, port = address.rpartition(":")
        if not sep or not name or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"address must be host:port, got {address!r}")
        return cls(address, name.strip("[]"), int(port), zone, weight)

    def available(self, now: float) -> bool:
        """True when the host passes health checks and is not ejected at ``now``."""
        return self.health_ok and now >= self.ejected_until

    def ejected(self, now: float) -> bool:
        """True while an outlier ejection is in force."""
        return now < self.ejected_until

    def __repr__(self) -> str:
        return (
            f"Host({self.address!r}, zone={self.zone!r}, weight={self.weight}, "
            f"health_ok={self.health_ok}, ejected_until={self.ejected_until})"
        )
