"""Team fragments on a real etcd: isolation (overreaching or bad fragments refused or
dropped alone, every other team unaffected), merged live into a running node, and the
``zonegate routes`` CLI."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import CollectorRegistry

from zonegate.cli.main import main
from zonegate.config.loader import parse_config
from zonegate.coordinator.client import EtcdClient
from zonegate.coordinator.config_store import ConfigStore
from zonegate.coordinator.etcd_server import EtcdCluster
from zonegate.coordinator.fragment_watcher import MergedConfigWatcher
from zonegate.coordinator.fragments import (
    FragmentRefusedError,
    FragmentStore,
    NoPlatformConfigError,
    fragment_key,
)
from zonegate.coordinator.keys import Keys
from zonegate.coordinator.metrics import CoordinatorMetrics
from zonegate.node.runtime import GatewayNode
from zonegate.testing.http1 import Http1Client


def platform(cluster: str, web: str) -> dict[str, Any]:
    return {
        "version": 1,
        "cluster": cluster,
        "clusters": [{"name": "web", "endpoints": [{"address": web}]}],
        "routes": [{"name": "web", "upstream": "web"}],
        "teams": [
            {"name": "orders", "path_prefixes": ["/orders"]},
            {"name": "payments", "path_prefixes": ["/payments"]},
        ],
    }


def fragment(team: str, address: str, path: str | None = None, **route: Any) -> dict[str, Any]:
    return {
        "version": 1,
        "clusters": [{"name": f"{team}-api", "endpoints": [{"address": address}]}],
        "routes": [
            {
                "name": f"{team}-api",
                "match": {"path": {"prefix": path or f"/{team}"}},
                "upstream": f"{team}-api",
                **route,
            }
        ],
    }


async def until(check: Callable[[], Any], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout}s: {what}")
        await asyncio.sleep(0.02)


async def served_by(node: GatewayNode, path: str) -> str:
    assert node.address is not None
    client = Http1Client(*node.address)
    try:
        resp = await client.request("GET", path)
    finally:
        await client.close()
    return str(json.loads(resp.body)["backend"]) if resp.status == 200 else str(resp.status)


async def test_team_fragments_are_isolated_live(
    etcd_cluster: EtcdCluster, cluster_name: str, backends
) -> None:
    web, orders, payments = (
        await backends("web"),
        await backends("orders"),
        await backends("payments"),
    )
    keys = Keys(cluster_name)
    metrics = CoordinatorMetrics(CollectorRegistry())
    async with EtcdClient(etcd_cluster.endpoints, metrics=metrics) as client:
        store = FragmentStore(client, keys)
        with pytest.raises(NoPlatformConfigError, match="zonegate config apply"):
            await store.plan("orders", fragment("orders", orders.address))
        platform_config = parse_config(platform(cluster_name, web.address))
        await ConfigStore(client, keys).apply(platform_config)
        first, changed, _ = await store.apply("orders", fragment("orders", orders.address))
        assert changed
        await store.apply("payments", fragment("payments", payments.address))

        node = GatewayNode(platform_config, node_id="n1", zone="zone-a")
        await node.start("127.0.0.1", 0)
        watcher = MergedConfigWatcher(client, keys, node.apply_config, initial=platform_config)
        watcher.start()
        try:
            await until(lambda: watcher.teams == ("orders", "payments"), "both teams merged")
            assert await served_by(node, "/orders/1") == "orders"
            assert await served_by(node, "/payments/1") == "payments"
            assert await served_by(node, "/other") == "web"

            # an overreaching fragment is refused at apply time, naming the conflict
            with pytest.raises(FragmentRefusedError) as refused:
                await store.apply("orders", fragment("orders", orders.address, "/payments"))
            assert (
                "routes[0].match: path /payments (prefix) is outside the paths delegated to "
                "team 'orders' (/orders)" in str(refused.value)
            )
            with pytest.raises(FragmentRefusedError, match="belongs to team 'payments'"):
                await store.apply(
                    "orders", fragment("orders", orders.address, upstream="payments-api")
                )
            stored = await store.get("orders")
            assert stored is not None and stored.revision == first.revision

            # a bad fragment that reaches etcd anyway is dropped alone on the node: the team
            # keeps its last good routes, every other team is unaffected
            bad = {"fragment": fragment("orders", orders.address, upstream="nowhere")}
            revision = await client.put(fragment_key(keys, "orders"), json.dumps(bad))
            await until(lambda: "orders" in watcher.dropped, "bad fragment dropped")
            assert "unknown cluster 'nowhere'" in " ".join(watcher.dropped["orders"])
            assert watcher.stale == {"orders": first.revision}
            assert await served_by(node, "/orders/1") == "orders"
            assert await served_by(node, "/payments/1") == "payments"

            # a team without a delegation gets nothing, the others keep working
            await client.put(
                fragment_key(keys, "intruder"),
                json.dumps({"fragment": fragment("intruder", web.address, "/")}),
            )
            await until(lambda: "intruder" in watcher.dropped, "undelegated team dropped")
            assert "no delegation" in watcher.dropped["intruder"][0]
            assert await served_by(node, "/payments/1") == "payments"

            # a good fragment replaces the bad one; a deleted one takes its routes away
            fixed, _, _ = await store.apply(
                "orders", fragment("orders", orders.address, timeout_s=5)
            )
            await until(lambda: watcher.revision >= fixed.revision, "fixed fragment applied")
            assert "orders" not in watcher.dropped and watcher.stale == {}
            assert node.config.routes[0].timeout_s == 5
            assert await store.delete("payments")
            await until(lambda: watcher.teams == ("orders",), "payments gone")
            assert await served_by(node, "/payments/1") == "web"
            assert revision > 0
        finally:
            await watcher.stop()
            await node.stop()


def test_routes_cli_diff_and_apply(
    etcd_cluster: EtcdCluster, cluster_name: str, tmp_path: Path, capsys
) -> None:
    etcd = ["--etcd", ",".join(etcd_cluster.endpoints), "--cluster", cluster_name]
    config_file = tmp_path / "platform.yaml"
    config_file.write_text(yaml.safe_dump(platform(cluster_name, "127.0.0.1:9")))
    assert main(["config", "apply", str(config_file), *etcd]) == 0
    good = tmp_path / "orders.yaml"
    good.write_text(yaml.safe_dump(fragment("orders", "127.0.0.1:10")))
    capsys.readouterr()

    assert main(["routes", "diff", "--team", "orders", str(good), "--exit-code", *etcd]) == 3
    out = capsys.readouterr().out
    assert "+ cluster orders-api" in out and "+ route orders-api" in out
    assert main(["routes", "apply", "--team", "orders", str(good), *etcd]) == 0
    assert "revision" in capsys.readouterr().out
    assert main(["routes", "diff", "--team", "orders", str(good), *etcd]) == 0
    assert "no changes" in capsys.readouterr().out

    changed = fragment("orders", "127.0.0.1:10", timeout_s=3)
    good.write_text(yaml.safe_dump(changed))
    assert main(["routes", "diff", "--team", "orders", str(good), "--json", *etcd]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert plan["changes"] == [
        {
            "kind": "changed",
            "section": "route",
            "name": "orders-api",
            "fields": ["timeout_s: 15.0 -> 3.0"],
        }
    ]

    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(fragment("orders", "127.0.0.1:10", "/admin")))
    assert main(["routes", "apply", "--team", "orders", str(bad), *etcd]) == 1
    err = capsys.readouterr().err
    assert "bad.yaml would be refused for team 'orders'" in err
    assert "path /admin (prefix) is outside the paths delegated to team 'orders'" in err
    assert "Traceback" not in err

    assert main(["routes", "list", "--json", *etcd]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["team"], r["routes"]) for r in rows] == [("orders", 1)]
    assert main(["routes", "delete", "--team", "orders", *etcd]) == 0
    assert main(["routes", "delete", "--team", "orders", *etcd]) == 1
    capsys.readouterr()
    assert main(["routes", "schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert schema["title"] == "zonegate team route fragment" and "routes" in schema["properties"]
