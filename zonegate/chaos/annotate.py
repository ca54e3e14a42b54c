"""The drill's annotation in etcd (``/zonegate/<cluster>/events/<ms>``) for the SLO dashboard."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from zonegate.chaos.report import DrillReport

ANNOTATION_KIND = "drill"


def annotation_of(report: DrillReport, report_dir: str = "") -> dict[str, Any]:
    """The JSON value: what the dashboard shows (title, start, end) plus the headline numbers."""
    m = report.metrics
    start = report.marks.fault_at or report.marks.method_start or report.started_at
    return {
        "title": f"drill {report.drill}: {report.outcome}",
        "kind": ANNOTATION_KIND,
        "drill": report.drill,
        "at": round(start, 3),
        "end": round(report.marks.observe_end or report.ended_at, 3),
        "outcome": report.outcome,
        "time_to_detect_s": m.time_to_detect_s,
        "time_to_failover_s": m.time_to_failover_s,
        "error_rate_during": m.error_rate_during,
        "report": report_dir,
    }


async def write_annotation(
    endpoints: Sequence[str], cluster: str, value: dict[str, Any], timeout_s: float = 3.0
) -> str:
    """Put the annotation; returns its key. Raises the coordinator's errors on failure."""
    from zonegate.coordinator.client import EtcdClient
    from zonegate.coordinator.keys import Keys

    key = Keys(cluster).event(int(float(value["at"]) * 1000))
    async with EtcdClient(
        list(endpoints), timeout=timeout_s, retry_for=timeout_s, probe_interval=None
    ) as client:
        await client.put(key, json.dumps(value, sort_keys=True))
    return key
