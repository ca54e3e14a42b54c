"""The README quick tour, run command by command against the default 3-zone cluster.

Blocks of ``docs/quick-tour.md`` are run in order with bash (``make run`` excepted:
``zonegate up --detach`` starts the same cluster); between them the test sends
traffic through both GLB replicas and straight to every zone's nodes. Then
``zonegate down`` must leave no process and no temp file behind.
"""

from __future__ import annotations

import http.client
import json
import re
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.e2e.conftest import ROOT, ClusterEnv
from zonegate.cluster.state import read_state

pytestmark = pytest.mark.e2e
TOUR = ROOT / "docs" / "quick-tour.md"
STARTUP_BUDGET_S = 15.0


def tour_blocks() -> list[str]:
    return re.findall(r"```sh\n(.*?)```", TOUR.read_text(), flags=re.S)


def run_block(cluster: ClusterEnv, block: str, prelude: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-euo", "pipefail", "-c", prelude + block],
        env=cluster.env,
        cwd=cluster.cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def get(url: str, path: str, *, region: str | None = None, source: str | None = None):
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(
        host, int(port), timeout=5, source_address=(source, 0) if source else None
    )
    try:
        conn.request("GET", path, headers={"x-client-region": region} if region else {})
        response = conn.getresponse()
        body = response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, body
    finally:
        conn.close()


def eventually(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"not within {timeout}s: {what}"
        time.sleep(0.2)


def check_traffic(cluster: ClusterEnv) -> None:
    """Both GLB replicas route each region to its zone; every zone's nodes serve locally."""
    state = read_state(cluster.run_dir)
    assert state is not None
    glbs = [p.url for p in state.processes if p.kind == "glb"]
    assert len(glbs) == 2 and state.entry_points == glbs
    for glb in glbs:
        for region, zone in (
            (None, "eu-west-1a"),
            ("eu-west-1", "eu-west-1a"),
            ("us-east-1", "us-east-1a"),
        ):
            status, headers, body = get(glb, "/catalog/items/1", region=region)
            assert status == 200, body
            assert headers["x-zonegate-zone"] == zone
            assert json.loads(body)["zone"] == zone  # the node picked a backend of its zone
        _, headers, _ = get(glb, "/catalog/items/1", source="127.0.3.200")  # by source CIDR
        assert headers["x-zonegate-zone"] == "us-east-1a"
    for node in (p for p in state.processes if p.kind == "node"):
        status, headers, body = get(node.url, "/orders")
        assert status == 200, body
        assert headers["x-zonegate-node"] == node.name
        assert json.loads(body)["zone"] == node.zone


@pytest.mark.timeout(300)  # ~60 s on an idle 2-core machine; much more under heavy load
def test_quick_tour(cluster_env: ClusterEnv) -> None:
    blocks = tour_blocks()
    assert blocks[0].strip() == "make run"
    prelude = ""
    outputs: dict[str, str] = {}
    for block in blocks[1:]:
        began = time.monotonic()
        result = run_block(cluster_env, block, prelude)
        print(f"[{time.monotonic() - began:5.1f}s] {block.strip().splitlines()[0]}")
        assert result.returncode == 0, f"{block}\nstdout:{result.stdout}\nstderr:{result.stderr}"
        first = block.strip().splitlines()[0]
        outputs[first] = result.stdout
        prelude += "".join(
            f"{line}\n" for line in block.splitlines() if re.match(r"^[A-Z_]+=", line)
        )
        check_block(cluster_env, first, result)
    assert cluster_env.run_dir.exists()
    cluster_env.assert_clean()


def check_block(cluster: ClusterEnv, first: str, result: subprocess.CompletedProcess[str]) -> None:
    out = result.stdout
    if first == "zonegate up --detach":
        assert "is up in" in result.stderr
        state = read_state(cluster.run_dir)
        assert state is not None and state.ready_seconds is not None
        print(f"cluster healthy in {state.ready_seconds:.1f}s: {state.phase_seconds}")
        assert state.ready_seconds < STARTUP_BUDGET_S * 3  # the 15 s target, with slack for CI load
        assert all(p.healthy for p in state.processes)
        check_traffic(cluster)
    elif first.startswith("GLB="):
        assert "x-zonegate-zone: eu-west-1a" in out.lower()
    elif first.startswith("curl -si -H 'x-client-region: us-east-1'") and "ctl start" not in first:
        assert out.lower().count("x-zonegate-zone: us-east-1a") == 2
    elif "users/login" in first:
        login = json.loads(out)
        assert (login["user"], login["created_in_zone"]) == ("alice", "us-east-1a")
        assert (Path(cluster.cwd) / "cookies.txt").exists()
    elif first.startswith("ORDER="):
        page = json.loads(out)
        assert page["order"]["item_id"] == 3 and page["item"]["sku"] == "kettle"
        assert page["user"]["user"] == "alice"
    elif first == "zonegate status":
        for expected in ("glb-1", "etcd-us-east-1a", "healthy", "etcd members", "services"):
            assert expected in out, out
    elif first == "zonegate ctl kill us-east-1a":
        lines = out.strip().splitlines()
        assert "etcd-us-east-1a" in lines and "us-east-1a-2" in lines
        answers = lines[-10:]
        assert sum(a.startswith("200 ") for a in answers) >= 9, answers
        assert all(a == "200 eu-west-1a" for a in answers[-5:]), answers
    elif "users/me" in first:
        me = json.loads(out)
        assert me["user"] == "alice" and me["zone"] != "us-east-1a"
    elif first == "zonegate ctl start us-east-1a":
        state = read_state(cluster.run_dir)
        assert state is not None
        assert all(p.state == "running" for p in state.processes if p.zone == "us-east-1a")
        glb = state.entry_points[0]
        eventually(  # failback after hold-down + ramp (the tour's sleep usually covers it)
            lambda: (
                get(glb, "/catalog/items/3", region="us-east-1")[1]["x-zonegate-zone"]
                == "us-east-1a"
            ),
            15,
            "us-east-1 clients back on us-east-1a",
        )
    elif first == "zonegate ctl etcd kill-leader":
        killed, leader = out.strip().splitlines()[:2]
        assert killed.startswith("etcd-") and leader.startswith("etcd-") and leader != killed
    elif first == "zonegate ctl url dashboard":
        url, status = out.split("\n", 1)
        assert url.startswith("http://127.0.0.")
        assert "us-east-1a" in json.loads(status)["zones"]
    elif first.startswith("zonegate logs"):
        assert "cluster stopped" in result.stderr
