"""The JSON access log: one line per request with every field."""

from __future__ import annotations

import json
import time

import aiohttp

from zonegate.testing.ports import free_port


async def test_one_json_line_per_request_with_all_fields(ops_node, backends, tmp_path) -> None:
    backend = await backends("b1")
    dead = f"127.0.0.1:{free_port()}"
    log_path = tmp_path / "access.log"
    document = {
        "clusters": [
            {"name": "app", "endpoints": [{"address": backend.address, "zone": "zone-b"}]},
            {"name": "dead", "endpoints": [{"address": dead, "zone": "zone-a"}]},
        ],
        "routes": [
            {"name": "dead", "match": {"path": {"prefix": "/dead"}}, "upstream": "dead"},
            {"name": "app", "match": {"path": {"prefix": "/"}}, "upstream": "app"},
        ],
    }
    node = {
        "access_log": {"path": str(log_path), "flush_interval_s": 0.05},
        "tracing": {"sample_ratio": 0.0},
    }
    item = await ops_node(document, node=node)
    before = time.time()
    traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"
    async with aiohttp.ClientSession() as session:
        async with session.get(
            item.url("/fixed/100?secret=hunter2"),
            headers={"X-Request-Id": "req-1", "traceparent": traceparent},
        ) as resp:
            assert resp.status == 200
            await resp.read()
        async with session.get(item.url('/dead/"quoted"\\path')) as resp:
            assert resp.status == 503
            failed_id = resp.headers["X-Request-Id"]
    await item.ops.close()  # flushes the writer
    lines = log_path.read_text().splitlines()
    assert len(lines) == 2
    ok, failed = (json.loads(line) for line in lines)
    assert ok["request_id"] == "req-1"
    assert ok["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert ok["node"] == "node-1" and ok["zone"] == "zone-a"
    assert ok["method"] == "GET" and ok["path"] == "/fixed/100"
    assert "hunter2" not in lines[0]  # the query string is never logged
    assert ok["route"] == "app" and ok["cluster"] == "app"
    assert ok["upstream_host"] == backend.address and ok["upstream_zone"] == "zone-b"
    assert ok["status"] == 200 and ok["bytes_sent"] == 100
    assert ok["attempts"] == 1 and ok["error"] == ""
    assert ok["client_ip"] == "127.0.0.1"
    assert 0 < ok["upstream_ms"] <= ok["duration_ms"] < 5000
    stamp = time.strptime(ok["time"][:19], "%Y-%m-%dT%H:%M:%S")
    assert abs(time.mktime(stamp) - time.timezone - before) < 5
    assert ok["time"].endswith("Z")

    assert failed["request_id"] == failed_id
    assert failed["path"] == "/dead/%22quoted%22%5Cpath"  # as the client encoded it
    assert failed["status"] == 503 and failed["error"] == "upstream_connect_failed"
    assert failed["upstream_host"] == dead and failed["attempts"] == 2
    assert len(failed["trace_id"]) == 32
