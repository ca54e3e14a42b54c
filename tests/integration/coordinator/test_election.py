"""Leader election on a real etcd: handover on resign and on kill, fencing of a paused leader."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import pytest

from zonegate.coordinator.client import EtcdClient
from zonegate.coordinator.election import Election, current_leader, fenced_txn
from zonegate.coordinator.errors import FencedError, NotLeaderError
from zonegate.coordinator.etcd_server import EtcdCluster
from zonegate.coordinator.etcd_types import Put
from zonegate.coordinator.keys import Keys
from zonegate.coordinator.metrics import CoordinatorMetrics

Eventually = Callable[..., Awaitable[None]]


class Candidate:
    """``python -m zonegate.coordinator.candidate`` in a subprocess, its JSON lines collected."""

    def __init__(self, *argv: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "zonegate.coordinator.candidate", *argv],
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self.events: list[dict[str, Any]] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.events.append(json.loads(line))

    def saw(self, event: str, **fields: Any) -> bool:
        return any(
            e["event"] == event and all(e.get(k) == v for k, v in fields.items())
            for e in self.events
        )

    def signal(self, signum: int) -> None:
        self.proc.send_signal(signum)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.kill()
        self.proc.wait()


@pytest.fixture
def candidates() -> Iterator[list[Candidate]]:
    started: list[Candidate] = []
    yield started
    for candidate in started:
        candidate.stop()


@pytest.fixture
async def elections(etcd: EtcdClient, cluster_name: str) -> AsyncIterator[Callable[..., Election]]:
    made: list[Election] = []

    def make(name: str, ttl: int = 1) -> Election:
        election = Election(etcd, Keys(cluster_name), name, ttl=ttl)
        election.start()
        made.append(election)
        return election

    yield make
    for election in made:
        await election.resign()


async def test_first_candidate_leads_and_resign_hands_over_fast(
    elections: Callable[..., Election], metrics: CoordinatorMetrics
) -> None:
    a = elections("a")
    assert await a.wait_until_leader(5)
    b = elections("b")
    leader = await b.wait_for_leader(5)
    assert leader is not None and leader.name == "a"
    assert not b.is_leader and b.fencing_token == 0
    with pytest.raises(NotLeaderError):
        await b.leader_write("/x", "y")
    token_a = a.fencing_token
    started = time.monotonic()
    await a.resign()
    assert await b.wait_until_leader(2)
    assert time.monotonic() - started < 0.3
    assert b.fencing_token > token_a
    assert metrics.leader_changes._value.get() >= 1
    assert metrics.is_leader._value.get() == 1
    assert metrics.fencing_token._value.get() == b.fencing_token


async def test_leader_write_is_fenced_once_leadership_is_gone(
    etcd: EtcdClient,
    cluster_name: str,
    elections: Callable[..., Election],
    metrics: CoordinatorMetrics,
) -> None:
    a = elections("a")
    assert await a.wait_until_leader(5)
    assert await a.leader_write(f"/{cluster_name}/duty", "1") > 0
    assert a.key is not None
    key, token = a.key, a.fencing_token
    await etcd.delete(key)  # as if the lease had expired behind its back
    with pytest.raises(NotLeaderError):  # refused by etcd (FencedError) or already stepped down
        await a.leader_write(f"/{cluster_name}/duty", "2")
    with pytest.raises(FencedError):  # the stale token itself is refused by etcd
        await fenced_txn(etcd, key, token, [Put(f"/{cluster_name}/duty", b"3")])
    assert not a.is_leader
    assert metrics.fenced_writes._value.get() >= 1
    got = await etcd.get(f"/{cluster_name}/duty")
    assert got is not None and got.value == b"1"
    assert await a.wait_until_leader(5)  # campaigns again with a new lease


async def test_handover_when_the_leader_process_is_killed(
    etcd_cluster: EtcdCluster,
    cluster_name: str,
    elections: Callable[..., Election],
    candidates: list[Candidate],
    eventually: Eventually,
) -> None:
    old = Candidate("--etcd", etcd_cluster.endpoints[0], "--cluster", cluster_name,
                    "--name", "old", "--ttl", "1")  # fmt: skip
    candidates.append(old)
    await eventually(lambda: old.saw("leader"), 15, "subprocess elected")
    new = elections("new")
    leader = await new.wait_for_leader(5)
    assert leader is not None and leader.name == "old"
    old.signal(signal.SIGKILL)
    killed = time.monotonic()
    assert await new.wait_until_leader(5)
    assert time.monotonic() - killed < 1 + 1.5  # TTL + expiry check + slack


async def test_paused_leader_cannot_write_after_takeover(
    etcd: EtcdClient,
    etcd_cluster: EtcdCluster,
    cluster_name: str,
    elections: Callable[..., Election],
    candidates: list[Candidate],
    eventually: Eventually,
) -> None:
    key = f"/zonegate/{cluster_name}/fenced"
    old = Candidate("--etcd", etcd_cluster.endpoints[0], "--cluster", cluster_name,
                    "--name", "old", "--ttl", "1", "--fenced-key", key)  # fmt: skip
    candidates.append(old)
    await eventually(lambda: old.saw("write", ok=True), 15, "old leader writing")
    new = elections("new")
    await new.wait_for_leader(5)
    old.signal(signal.SIGSTOP)  # frozen past its TTL...
    assert await new.wait_until_leader(5)  # ...so its lease expires and 'new' takes over
    await new.leader_write(key, json.dumps({"writer": "new"}))
    resumed_at = time.time()
    old.signal(signal.SIGCONT)  # it wakes up still believing it leads

    def writes_after_resume() -> list[dict[str, Any]]:
        return [e for e in old.events if e["event"] == "write" and e["t"] >= resumed_at]

    await eventually(lambda: len(writes_after_resume()) >= 2, 10, "the old leader writing again")
    assert not any(e["ok"] for e in writes_after_resume())  # every one refused by etcd
    stored = await etcd.get(key)
    assert stored is not None and json.loads(stored.value) == {"writer": "new"}
    assert new.is_leader
    leader = await current_leader(etcd, Keys(cluster_name))
    assert leader is not None and leader.name == "new"
    await eventually(lambda: old.saw("follower"), 5, "old leader stepped down")


async def test_sigterm_resigns_the_subprocess(
    etcd_cluster: EtcdCluster,
    cluster_name: str,
    elections: Callable[..., Election],
    candidates: list[Candidate],
    eventually: Eventually,
) -> None:
    old = Candidate("--etcd", etcd_cluster.endpoints[0], "--cluster", cluster_name,
                    "--name", "old", "--ttl", "5")  # fmt: skip
    candidates.append(old)
    await eventually(lambda: old.saw("leader"), 15)
    new = elections("new", ttl=5)
    await new.wait_for_leader(5)
    old.signal(signal.SIGTERM)
    stopped = time.monotonic()
    assert await new.wait_until_leader(3)
    assert time.monotonic() - stopped < 1.5  # far below the 5 s TTL: resigned, not expired
    await eventually(lambda: old.saw("resigned"), 5)
    assert await asyncio.to_thread(old.proc.wait, 5) == 0


async def test_never_two_leaders_while_the_etcd_leader_member_dies(
    etcd_factory: Callable[..., EtcdCluster],
    cluster_name: str,
    metrics: CoordinatorMetrics,
    eventually: Eventually,
) -> None:
    cluster = etcd_factory(3)
    keys = Keys(cluster_name)
    async with (
        EtcdClient(cluster.endpoints, timeout=0.5, probe_interval=0.2, metrics=metrics) as ca,
        EtcdClient(cluster.endpoints[::-1], timeout=0.5, probe_interval=0.2, metrics=metrics) as cb,
    ):
        a = Election(ca, keys, "a", ttl=2)
        a.start()
        assert await a.wait_until_leader(5)
        b = Election(cb, keys, "b", ttl=2)
        b.start()
        await b.wait_for_leader(5)
        both = 0
        stop_at = time.monotonic() + 3
        cluster.kill_member(cluster.leader_index())  # raft re-elects; leases carry over
        while time.monotonic() < stop_at:
            both += a.is_leader and b.is_leader
            await asyncio.sleep(0.01)
        assert both == 0
        await eventually(lambda: a.is_leader or b.is_leader, 5, "a leader after the chaos")
        leaders = [e for e in (a, b) if e.is_leader]
        assert len(leaders) == 1
        assert await leaders[0].leader_write(f"/{cluster_name}/after", "ok") > 0
        await a.resign()
        await b.resign()
