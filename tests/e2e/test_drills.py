"""Built-in drills against a real local cluster (``zonegate up``), run through the CLI.

One cluster serves the module: three zones in two regions, one gateway node per zone
(so a rolling restart stays short), real etcd, demo backends, one GLB; the SLO dashboard
is off so error_budget_consumed comes from the request log and can be recomputed here.
Each drill's report is checked against its raw request log.
"""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.e2e.conftest import ClusterEnv, make_cluster_env, tear_down
from zonegate.chaos.records import RequestRecord, read_records
from zonegate.cluster.spec import default_cluster_text
from zonegate.cluster.state import read_state
from zonegate.slo.budget import EventCounts, budget_consumed_between

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClusterEnv]:
    base = tmp_path_factory.mktemp("drills")
    data = yaml.safe_load(default_cluster_text())
    local = data["local"]
    local["nodes"]["per_zone"] = 1
    local["glb"]["replicas"] = 1
    local["backends"] = [{"service": "catalog", "per_zone": 1}, {"service": "users", "per_zone": 1}]
    local["dashboard"] = {"enabled": False}
    data["gateway"]["clusters"] = [
        c for c in data["gateway"]["clusters"] if c["name"] in ("catalog", "users")
    ]
    data["gateway"]["routes"] = [
        r for r in data["gateway"]["routes"] if r["name"] in ("catalog", "users")
    ]
    path = base / "cluster.yaml"
    path.write_text(yaml.safe_dump(data))
    cluster = make_cluster_env(base)
    try:
        up = cluster.zonegate("up", "--detach", "-c", str(path), timeout=120)
        assert up.returncode == 0, up.stdout + up.stderr
        yield cluster
    finally:
        tear_down(cluster)


def run_drill(cluster: ClusterEnv, name: str, out: Path) -> tuple[int, dict[str, Any], str]:
    result = cluster.zonegate(
        "drill",
        "run",
        name,
        "--run-dir",
        str(cluster.run_dir),
        "-o",
        str(out),
        "--json",
        "--no-live",
        timeout=150,
    )
    text = result.stdout
    start = text.find("{\n")
    assert start >= 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.returncode, json.loads(text[start:]), result.stdout + result.stderr


def failed(r: RequestRecord) -> bool:
    return r.status == 0 or r.status >= 500


def check_against_log(report: dict[str, Any], records: list[RequestRecord]) -> None:
    """Totals, the fault window, p99 and the budget, recomputed from requests.jsonl."""
    m, marks = report["metrics"], report["marks"]
    assert m["requests_total"] == len(records) > 1000
    assert m["requests_failed"] == sum(1 for r in records if failed(r))
    start = marks["fault_at"] or marks["method_start"]
    during = [r for r in records if start <= r.t < marks["observe_end"]]
    assert m["requests_during"] == len(during)
    assert m["failed_during"] == sum(1 for r in during if failed(r))
    assert m["error_rate_during"] == pytest.approx(m["failed_during"] / len(during))
    ordered = sorted(r.latency_ms for r in during)
    assert m["p99_during_ms"] == pytest.approx(ordered[math.ceil(0.99 * len(ordered)) - 1])
    drill = [r for r in records if marks["method_start"] <= r.t < marks["observe_end"]]
    counts = EventCounts(float(sum(1 for r in drill if failed(r))), float(len(drill)))
    span = marks["observe_end"] - marks["method_start"]
    assert m["error_budget_source"] == "load"
    assert m["error_budget_consumed"] == pytest.approx(
        budget_consumed_between(counts, counts, 0.999, 30 * 86400, span)
    )


def read_annotation(cluster: ClusterEnv, key: str) -> dict[str, Any]:
    from zonegate.coordinator.client import EtcdClient

    state = read_state(cluster.run_dir)
    assert state is not None

    async def get() -> Any:
        async with EtcdClient(state.etcd_endpoints, probe_interval=None) as client:
            return await client.get(key)

    kv = asyncio.run(get())
    assert kv is not None, f"no annotation at {key}"
    value: dict[str, Any] = json.loads(kv.value)
    return value


def test_zone_outage(cluster: ClusterEnv, tmp_path: Path) -> None:
    code, report, output = run_drill(cluster, "zone-outage", tmp_path / "zone-outage")
    assert code == 0, output[-4000:]
    assert report["outcome"] == "completed"
    assert report["parameters"] == {"zone": "eu-west-1a"}
    assert report["targets"]["zones"] == ["eu-west-1a"]
    m, marks = report["metrics"], report["marks"]
    records = read_records(tmp_path / "zone-outage" / "requests.jsonl")
    check_against_log(report, records)
    # Failover: nothing from eu-west-1a and >= 99 % success, within 1.5 s of the kill.
    assert m["time_to_detect_s"] is not None and m["time_to_detect_s"] < 1.5
    assert m["time_to_failover_s"] is not None and m["time_to_failover_s"] < 1.5
    window = [r for r in records if marks["failover_at"] <= r.t < marks["failover_at"] + 0.3]
    assert window and not any(r.zone == "eu-west-1a" and not failed(r) for r in window)
    assert m["error_rate_during"] <= 0.005
    # Failback after the hold-down: eu-west-1a serves again at the end.
    assert m["time_to_recover_s"] is not None
    tail = [r for r in records if r.t >= marks["recovered_at"] and not failed(r)]
    assert sum(r.zone == "eu-west-1a" for r in tail) / len(tail) > 0.9
    assert report["hypothesis_after"]["met"]
    assert [r["ok"] for r in report["rollbacks"]] == [True]
    note = next(n for n in report["notes"] if n.startswith("annotation "))
    annotation = read_annotation(cluster, note.removeprefix("annotation "))
    assert annotation["drill"] == "zone-outage" and annotation["outcome"] == "completed"
    for name in ("report.md", "timeline.png", "timeline.json"):
        assert (tmp_path / "zone-outage" / name).stat().st_size > 0


def test_rolling_restart(cluster: ClusterEnv, tmp_path: Path) -> None:
    state = read_state(cluster.run_dir)
    assert state is not None
    before = {p.name: p.pid for p in state.processes if p.kind == "node"}
    code, report, output = run_drill(cluster, "rolling-restart", tmp_path / "rolling")
    assert code == 0, output[-4000:]
    assert report["outcome"] == "completed"
    restart = report["steps"][0]
    assert restart["kind"] == "rolling_restart" and sorted(restart["affected"]) == sorted(before)
    after_state = read_state(cluster.run_dir)
    assert after_state is not None
    after = {p.name: p.pid for p in after_state.processes if p.kind == "node"}
    assert all(after[name] != pid for name, pid in before.items()), "a node was not restarted"
    records = read_records(tmp_path / "rolling" / "requests.jsonl")
    check_against_log(report, records)
    # Zero failed requests while every node drained and came back.
    assert report["metrics"]["requests_failed"] == 0
    assert not any(failed(r) for r in records)
