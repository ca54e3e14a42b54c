"""The compiled hot path: the listed modules exist, and a stale build is noticed."""

from __future__ import annotations

import os
from pathlib import Path

from zonegate.node import compiled


def test_every_hot_module_has_a_source() -> None:
    for module in compiled.HOT_MODULES:
        assert compiled.source_path(module).is_file(), module


def _tree(root: Path) -> Path:
    package = root / "zonegate"
    (package / "node").mkdir(parents=True)
    (package / "node" / "server.py").write_text("")
    (package / "config.py").write_text("")
    return package


def test_nothing_compiled_is_never_stale(tmp_path: Path) -> None:
    assert compiled.stale_sources(_tree(tmp_path)) == []


def test_a_source_newer_than_the_build_is_stale(tmp_path: Path) -> None:
    package = _tree(tmp_path)
    library = package / "node" / "hotpath__mypyc.cpython-311-x86_64-linux-gnu.so"
    library.write_bytes(b"")
    os.utime(library, (2_000_000_000, 2_000_000_000))
    for source in package.rglob("*.py"):
        os.utime(source, (1_000_000_000, 1_000_000_000))
    assert compiled.stale_sources(package) == []
    os.utime(package / "config.py", (2_000_000_001, 2_000_000_001))
    assert compiled.stale_sources(package) == ["zonegate/config.py"]


def test_the_node_says_what_it_runs() -> None:
    current, line = compiled.describe()
    assert ("compiled with mypyc" in line) == current
