"""Per-request state shared by the filters, the proxy and the access log."""

from __future__ import annotations

import time
from typing import Any


class RequestContext:
    """Everything known about one request; filled in as it goes through the node."""

    __slots__ = (
        "attempts",
        "attributes",
        "bytes_received",
        "bytes_sent",
        "cluster",
        "consumer",
        "error_code",
        "request_id",
        "route",
        "span",
        "start",
        "start_wall",
        "status",
        "trace_id",
        "upstream_duration",
        "upstream_host",
        "upstream_zone",
    )

    def __init__(self, request_id: str = "") -> None:
        self.request_id = request_id
        self.start = time.perf_counter()
        self.start_wall = time.time()
        self.route: str = ""
        self.cluster: str = ""
        self.consumer: str = ""
        self.upstream_host: str = ""
        self.upstream_zone: str = ""
        self.status: int = 0
        self.error_code: str = ""
        self.attempts: int = 0
        self.bytes_received: int = 0
        self.bytes_sent: int = 0
        self.upstream_duration: float = 0.0
        self.trace_id: str = ""
        self.span: Any = None
        self.attributes: dict[str, Any] | None = None

    def set_attribute(self, key: str, value: Any) -> None:
        if self.attributes is None:
            self.attributes = {}
        self.attributes[key] = value

    def duration(self) -> float:
        return time.perf_counter() - self.start
