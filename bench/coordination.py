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
- global rate limit accuracy, through 3 ``zonegate node --etcd`` processes (one
  per zone) and a demo backend: a ``scope: cluster`` limit of 300 req/s, 900
  req/s offered skewed 70/20/10 for 30 s. Target: admitted within 5 % of the
  limit; etcd writes/s the same at 300 req/s offered.
- fail-static: the same nodes under steady load while every etcd member is
  stopped for 60 s. Targets: zero failed requests, zero config lost (each node
  runs the revision it had), and after etcd returns (a new config applied at
  once) every node registered, on the new revision and sharing its rate-limit
  counts again within 2 s.

Run: ``.venv/bin/python bench/coordination.py`` (``--json`` for machine output;
``--quick`` for shorter runs; ``--sections leader,config,ratelimit,failstatic``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import yaml
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
from zonegate.coordinator.records import NodeInfo
from zonegate.testing.node_procs import (
    NodeProc,
    Proc,
    admin_states,
    poll_until,
    start_backend,
    start_node,
    stop,
)
from zonegate.testing.paced_load import PacedLoad, tally

TTL = 3
SECTIONS = ("leader", "config", "ratelimit", "failstatic")
LIMIT = 300
SKEW = (0.7, 0.2, 0.1)


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


async def run(
    trials: int, applies: int, sections: set[str], ratelimit_s: float, outage_s: float
) -> dict[str, Any]:
    cluster = await asyncio.to_thread(lambda: EtcdCluster(3).start())
    result: dict[str, Any] = {"ttl_s": TTL}
    try:
        if "leader" in sections:
            kills = [await handover(cluster.endpoints, i, signal.SIGKILL) for i in range(trials)]
            resigns = [await handover(cluster.endpoints, i, signal.SIGTERM) for i in range(trials)]
            result["failover_after_kill_s"] = {"median": statistics.median(kills), "all": kills}
            result["graceful_resign_s"] = {"median": statistics.median(resigns), "all": resigns}
        if "config" in sections:
            config = await propagation(cluster, applies)
            result["config_propagation_s"] = {
                "p50": percentile(config, 50),
                "p99": percentile(config, 99),
                "max": max(config),
                "applies": applies,
            }
        if sections & {"ratelimit", "failstatic"}:
            result.update(await with_nodes(cluster, sections, ratelimit_s, outage_s))
    finally:
        await asyncio.to_thread(cluster.stop)
    return result


# --- through node processes: global rate limit accuracy, fail-static ----------------
def node_document(cluster: str, backend: str, timeout_s: float = 15.0) -> dict[str, Any]:
    def limited(name: str, requests: int) -> dict[str, Any]:
        limit = {"name": name, "algorithm": "sliding_window", "requests": requests,
                 "window_s": 1, "key": ["route"], "scope": "cluster"}  # fmt: skip
        return {"rate_limits": [limit]}

    return {
        "version": 1,
        "cluster": cluster,
        "clusters": [{"name": "app", "endpoints": [{"address": backend, "zone": "zone-a"}]}],
        "routes": [
            {"name": "limited", "match": {"path": {"prefix": "/limited/"}}, "upstream": "app",
             "rewrite": {"strip_prefix": "/limited"}, "policies": limited("global", LIMIT)},
            {"name": "steady", "upstream": "app", "timeout_s": timeout_s,
             "policies": limited("roomy", 100 * LIMIT)},
        ],
    }  # fmt: skip


async def with_nodes(
    cluster: EtcdCluster, sections: set[str], ratelimit_s: float, outage_s: float
) -> dict[str, Any]:
    name = f"benchrl{os.getpid()}"
    tmp = Path(tempfile.mkdtemp(prefix="zonegate-bench-"))
    procs: list[Proc] = []
    try:
        backend = await asyncio.to_thread(start_backend, "b", tmp)
        procs.append(backend)
        path = tmp / "cluster.yaml"
        path.write_text(yaml.safe_dump(node_document(name, backend.address)))
        nodes = []
        for i, zone in enumerate(("zone-a", "zone-b", "zone-c")):
            node = await asyncio.to_thread(
                start_node, path, f"n{i}", zone, cluster.endpoints, tmp,
                extra_args=["--drain-grace", "0"],
            )  # fmt: skip
            procs.append(node)
            nodes.append(node)
        async with aiohttp.ClientSession() as session:

            async def shared() -> bool:
                return all(
                    s["shared"] and s["live_nodes"] == 3 for s in await admin_states(session, nodes)
                )

            await poll_until(shared, 30, "nodes sharing their counts")
            out: dict[str, Any] = {}
            if "ratelimit" in sections:
                out["global_limit"] = [
                    await limit_accuracy(cluster, session, nodes, total, seconds)
                    for total, seconds in ((3 * LIMIT, ratelimit_s), (LIMIT, ratelimit_s / 3))
                ]
            if "failstatic" in sections:
                out["fail_static"] = await fail_static(cluster, session, nodes, name, outage_s)
        return out
    finally:
        for item in reversed(procs):
            await asyncio.to_thread(stop, item.proc)
        shutil.rmtree(tmp, ignore_errors=True)


async def etcd_revision(endpoints: list[str]) -> int:
    async with client(endpoints) as etcd:
        return (await etcd.read("/")).revision


async def limit_accuracy(
    cluster: EtcdCluster,
    session: aiohttp.ClientSession,
    nodes: list[NodeProc],
    total: float,
    seconds: float,
) -> dict[str, Any]:
    """Offer ``total`` req/s skewed 70/20/10 on the limited route; measure after 2 s."""
    load = PacedLoad([n.url + "/limited/healthz" for n in nodes], [total * s for s in SKEW])
    await load.start()
    await asyncio.sleep(2.0)  # windows fill
    before, revision = await admin_states(session, nodes), await etcd_revision(cluster.endpoints)
    started = asyncio.get_running_loop().time()
    await asyncio.sleep(seconds)
    after, revision_after = (
        await admin_states(session, nodes),
        await etcd_revision(cluster.endpoints),
    )
    counts = tally(await load.stop(), started, started + seconds)
    admitted = [counts[(i, 200)] / seconds for i in range(len(nodes))]
    syncs = sum(a["syncs"] - b["syncs"] for a, b in zip(after, before, strict=True))
    return {
        "offered_per_s": sum(counts.values()) / seconds,
        "admitted_per_s": sum(admitted),
        "admitted_per_node": admitted,
        "other_statuses": sum(n for (_, st), n in counts.items() if st not in (200, 429)),
        "etcd_writes_per_s": (revision_after - revision) / seconds,
        "sync_txns_per_s": syncs / seconds,
        "seconds": seconds,
    }


async def fail_static(
    cluster: EtcdCluster,
    session: aiohttp.ClientSession,
    nodes: list[NodeProc],
    name: str,
    outage_s: float,
) -> dict[str, Any]:
    """Steady load while every etcd member is stopped for ``outage_s``."""
    document = yaml.safe_load((nodes[0].log.parent / "cluster.yaml").read_text())
    async with client(cluster.endpoints) as etcd:
        stored, _ = await ConfigStore(etcd, Keys(name)).apply(parse_config(document))
    first = stored.revision

    async def running(revision: int) -> bool:
        return all(
            s["revision"] == revision and s["source"] == "etcd"
            for s in await admin_states(session, nodes)
        )

    await poll_until(lambda: running(first), 20, "config from etcd")
    load = PacedLoad([n.url + "/healthz" for n in nodes], [50.0] * len(nodes))
    await load.start()
    await asyncio.sleep(3.0)
    for index in range(len(cluster.members)):
        await asyncio.to_thread(cluster.stop_member, index)
    stopped_at = time.monotonic()
    lost = checks = 0
    while time.monotonic() - stopped_at < outage_s:
        for s in await admin_states(session, nodes):
            checks += 1
            lost += s["revision"] != first
        await asyncio.sleep(1.0)
    noticed = all(
        s["reachable"] is False and not s["shared"] for s in await admin_states(session, nodes)
    )
    for index in range(len(cluster.members)):
        await asyncio.to_thread(cluster.restart_member, index, False)
    await asyncio.to_thread(cluster.wait_healthy)
    back = time.monotonic()
    document["routes"][1]["timeout_s"] = 14.0  # a new revision, applied at once
    async with client(cluster.endpoints) as etcd:
        stored, _ = await ConfigStore(etcd, Keys(name)).apply(parse_config(document))

        async def converged() -> bool:
            registered = await etcd.get_prefix(Keys(name).nodes_prefix)
            revisions = [NodeInfo.from_json(kv.value).config_revision for kv in registered.kvs]
            if revisions != [stored.revision] * len(nodes):
                return False
            return all(
                s["revision"] == stored.revision and s["shared"] and s["reachable"]
                for s in await admin_states(session, nodes)
            )

        await poll_until(converged, 30, "nodes converged after etcd returned", every=0.02)
    converge_s = time.monotonic() - back
    await asyncio.sleep(3.0)
    outcomes = await load.stop()
    return {
        "outage_s": outage_s,
        "requests": len(outcomes),
        "failed": sum(1 for o in outcomes if o.status != 200),
        "config_lost": lost,
        "config_checks": checks,
        "noticed_outage": noticed,
        "converge_s": converge_s,
    }


Row = tuple[str, str, str, bool | None]


def rows(result: dict[str, Any]) -> list[Row]:
    out: list[Row] = []
    if "failover_after_kill_s" in result:
        kill = result["failover_after_kill_s"]
        resign = result["graceful_resign_s"]
        n = len(kill["all"])
        out += [
            (f"leader failover after SIGKILL (median of {n})", f"<= {TTL + 1} s",
             f"{kill['median']:.3f} s", kill["median"] <= TTL + 1),
            (f"graceful resign (median of {n})", "< 0.300 s", f"{resign['median']:.3f} s",
             resign["median"] < 0.3),
        ]  # fmt: skip
    if "config_propagation_s" in result:
        prop = result["config_propagation_s"]
        out += [
            (f"config propagation to 6 watchers, p99 of {prop['applies']}", "< 0.500 s",
             f"{prop['p99']:.3f} s", prop["p99"] < 0.5),
            ("config propagation p50 / max", "", f"{prop['p50']:.3f} / {prop['max']:.3f} s",
             None),
        ]  # fmt: skip
    if "global_limit" in result:
        over, under = result["global_limit"]
        split = "/".join(f"{a:.0f}" for a in over["admitted_per_node"])
        out += [
            (f"global limit {LIMIT}/s, 3 nodes, {over['offered_per_s']:.0f} req/s offered "
             f"70/20/10, {over['seconds']:.0f} s: admitted", f"{LIMIT} ± 5 % req/s",
             f"{over['admitted_per_s']:.1f} req/s ({split})",
             abs(over["admitted_per_s"] - LIMIT) <= 0.05 * LIMIT),
            (f"etcd writes/s at {over['offered_per_s']:.0f} vs {under['offered_per_s']:.0f} "
             "req/s offered (rate-limit sync txns/s)", "no growth with the rate",
             f"{over['etcd_writes_per_s']:.1f} ({over['sync_txns_per_s']:.1f}) vs "
             f"{under['etcd_writes_per_s']:.1f} ({under['sync_txns_per_s']:.1f})",
             over["etcd_writes_per_s"] <= 1.2 * under["etcd_writes_per_s"] + 2),
        ]  # fmt: skip
    if "fail_static" in result:
        fs = result["fail_static"]
        out += [
            (f"fail-static, etcd stopped {fs['outage_s']:.0f} s: failed requests", "0",
             f"{fs['failed']} of {fs['requests']}", fs["failed"] == 0),
            ("fail-static: config revisions lost (node checks)", "0",
             f"{fs['config_lost']} of {fs['config_checks']}", fs["config_lost"] == 0),
            ("fail-static: all nodes converged after etcd returned", "< 2 s",
             f"{fs['converge_s']:.3f} s", fs["converge_s"] < 2.0),
        ]  # fmt: skip
    return out


def render(result: dict[str, Any]) -> None:
    table = Table(title="zonegate coordination (3-member etcd, lease TTL 3 s)")
    for column in ("measure", "target", "measured", "ok"):
        table.add_column(column)
    for name, target, measured, ok in rows(result):
        table.add_row(name, target, measured, "" if ok is None else "yes" if ok else "NO")
    Console().print(table)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=None, help="leader trials (default 5)")
    parser.add_argument("--applies", type=int, default=None, help="config applies (default 100)")
    parser.add_argument("--quick", action="store_true", help="shorter runs (10 s, 15 s outage)")
    parser.add_argument(
        "--sections", default=",".join(SECTIONS), help=f"comma-separated: {','.join(SECTIONS)}"
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    sections = {s.strip() for s in args.sections.split(",") if s.strip()}
    if not sections or sections - set(SECTIONS):
        parser.error(f"--sections takes some of {','.join(SECTIONS)}")
    trials = args.trials or (3 if args.quick else 5)
    applies = args.applies or (30 if args.quick else 100)
    ratelimit_s, outage_s = (10.0, 15.0) if args.quick else (30.0, 60.0)
    result = asyncio.run(run(trials, applies, sections, ratelimit_s, outage_s))
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        render(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
