"""Coordination benchmarks on a real 3-member etcd (default raft timings).

- leader failover after SIGKILL of the leader process (median of N): the
  leader is ``python -m zonegate.coordinator.candidate`` (lease TTL 3 s), the
  standby an in-process :class:`Election`; time from SIGKILL to the standby
  leading. Target: <= TTL + 1 s.
- graceful resign (median of N): SIGTERM to the leader process (it revokes its
  lease) -> standby leads. Target: < 300 ms.
- config propagation: 6 :class:`ConfigWatcher` (2 per etcd member, as the 6
  nodes of a 3-zone cluster would be), each with its own client; time from
  the start of ``ConfigStore.apply`` until all 6 run the new revision, over
  ``--applies`` applies. Target: p99 < 500 ms.

Run: ``.venv/bin/python bench/coordination.py`` (``--json`` for machine output).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

from prometheus_client import CollectorRegistry
from rich.console import Console
from rich.table import Table

from zonegate.config.loader import parse_config
from zonegate.coordinator.client import EtcdClient
from zonegate.coordinator.config_store import ConfigStore
from zonegate.coordinator.config_watcher import ConfigWatcher
from zonegate.coordinator.election import Election
from zonegate.coordinator.etcd_server import EtcdCluster
from zonegate.coordinator.keys import Keys
from zonegate.coordinator.metrics import CoordinatorMetrics

TTL = 3


def client(endpoints: list[str]) -> EtcdClient:
    return EtcdClient(endpoints, timeout=1.0, metrics=CoordinatorMetrics(CollectorRegistry()))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


async def spawn_leader(endpoints: list[str], cluster: str) -> asyncio.subprocess.Process:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "zonegate.coordinator.candidate", "--etcd", ",".join(endpoints),
        "--cluster", cluster, "--name", "old", "--ttl", str(TTL),
        stdout=asyncio.subprocess.PIPE, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    assert proc.stdout is not None
    while True:
        async with asyncio.timeout(30):
            line = await proc.stdout.readline()
        if not line:
            raise RuntimeError("candidate process exited before leading")
        if json.loads(line)["event"] == "leader":
            return proc


async def handover(endpoints: list[str], trial: int, signum: int) -> float:
    """Seconds from ``signum`` to the leader process until the standby leads."""
    cluster = f"bench{signum}x{trial}x{os.getpid()}"
    proc = await spawn_leader(endpoints, cluster)
    try:
        async with client(endpoints) as etcd:
            standby = Election(etcd, Keys(cluster), "standby", ttl=TTL)
            standby.start()
            leader = await standby.wait_for_leader(10)
            assert leader is not None and leader.name == "old"
            started = time.monotonic()
            proc.send_signal(signum)
            if not await standby.wait_until_leader(TTL * 3):
                raise RuntimeError("standby never took over")
            elapsed = time.monotonic() - started
            await standby.resign()
            return elapsed
    finally:
        if proc.returncode is None:
            proc.kill()
        await proc.wait()


async def propagation(cluster: EtcdCluster, applies: int) -> list[float]:
    """Seconds from apply to all 6 watchers at the new revision, per apply."""
    name = f"benchcfg{os.getpid()}"
    keys = Keys(name)
    clients = [client([m.endpoint]) for m in cluster.members for _ in range(2)]
    watchers: list[ConfigWatcher] = []
    async with client(cluster.endpoints) as admin:
        for c in clients:
            c.start()
            watcher = ConfigWatcher(c, keys, lambda config, revision: None)
            watcher.start()
            watchers.append(watcher)
        store = ConfigStore(admin, keys)
        latencies = []
        for i in range(applies):
            config = parse_config({"version": 1, "cluster": name, "node": {"zone": f"z{i}"}})
            started = time.monotonic()
            stored, _ = await store.apply(config)
            await asyncio.gather(*(w.wait_for_revision(stored.revision, 10) for w in watchers))
            latencies.append(time.monotonic() - started)
        for watcher in watchers:
            await watcher.stop()
        for c in clients:
            await c.close()
    return latencies


async def run(trials: int, applies: int) -> dict[str, Any]:
    cluster = await asyncio.to_thread(lambda: EtcdCluster(3).start())
    try:
        kills = [await handover(cluster.endpoints, i, signal.SIGKILL) for i in range(trials)]
        resigns = [await handover(cluster.endpoints, i, signal.SIGTERM) for i in range(trials)]
        config = await propagation(cluster, applies)
    finally:
        await asyncio.to_thread(cluster.stop)
    return {
        "failover_after_kill_s": {"median": statistics.median(kills), "all": kills},
        "graceful_resign_s": {"median": statistics.median(resigns), "all": resigns},
        "config_propagation_s": {
            "p50": percentile(config, 50),
            "p99": percentile(config, 99),
            "max": max(config),
            "applies": applies,
        },
        "ttl_s": TTL,
    }


def render(result: dict[str, Any]) -> None:
    table = Table(title="zonegate coordination (3-member etcd, lease TTL 3 s)")
    for column in ("measure", "target", "measured", "ok"):
        table.add_column(column)
    kill = result["failover_after_kill_s"]["median"]
    resign = result["graceful_resign_s"]["median"]
    prop = result["config_propagation_s"]
    rows: list[tuple[str, str, float, Callable[[float], bool]]] = [
        ("leader failover after SIGKILL (median of 5)", f"<= {TTL + 1} s", kill,
         lambda v: v <= TTL + 1),
        ("graceful resign (median of 5)", "< 0.300 s", resign, lambda v: v < 0.3),
        (f"config propagation to 6 watchers, p99 of {prop['applies']}", "< 0.500 s",
         prop["p99"], lambda v: v < 0.5),
    ]  # fmt: skip
    for name, target, value, ok in rows:
        table.add_row(name, target, f"{value:.3f} s", "yes" if ok(value) else "NO")
    table.add_row(
        "config propagation p50 / max", "", f"{prop['p50']:.3f} / {prop['max']:.3f} s", ""
    )
    Console().print(table)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--applies", type=int, default=100)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = asyncio.run(run(args.trials, args.applies))
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        render(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
