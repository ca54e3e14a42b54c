"""The CLI on bad input: a clear message, a non-zero exit, no traceback, nothing started."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ZONEGATE = [sys.executable, "-m", "zonegate.cli.main"]


def run(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*ZONEGATE, *args], check=False, capture_output=True, text=True, timeout=timeout
    )


def test_config_validate_reports_every_problem(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "version: 1\nclusters: [{name: orders, endpoints: [{address: 'h:1'}]}]\n"
        "routes: [{name: r, upstream: ordres}, {name: s, upstream: orders, timeout_s: -1}]\n"
    )
    result = run("config", "validate", str(bad))
    assert result.returncode == 1
    assert "routes[0].upstream: unknown cluster 'ordres' (did you mean 'orders'?)" in result.stderr
    assert "routes[1].timeout_s" in result.stderr
    assert "Traceback" not in result.stderr


def test_node_refuses_to_start_on_a_bad_config(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nroutes: [{name: r, upstream: nowhere}]\n")
    result = run("node", "-c", str(bad), "--listen", "127.0.0.1:0")
    assert result.returncode == 1
    assert "unknown cluster 'nowhere'" in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_flag_is_explained() -> None:
    result = run("node", "-c", "x.yaml", "--listen", "nonsense")
    assert result.returncode == 2
    assert "expected HOST:PORT" in result.stderr


def test_schema_is_json() -> None:
    result = run("config", "schema")
    assert result.returncode == 0
    assert json.loads(result.stdout)["title"] == "zonegate cluster config"
