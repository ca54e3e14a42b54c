"""``zonegate logs``: which files, tails, and following appended lines."""

from __future__ import annotations

from pathlib import Path

import pytest

from zonegate.cluster.errors import UnknownTargetError
from zonegate.cluster.logs import choose, follow, log_files, tails


def _run_dir(tmp_path: Path) -> Path:
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "a.log").write_text("a1\na2\na3\n")
    (logs / "b.log").write_text("b1\n")
    (tmp_path / "supervisor.log").write_text("s1\n")
    return tmp_path


def test_files_and_tails(tmp_path: Path) -> None:
    files = log_files(_run_dir(tmp_path))
    assert list(files) == ["a", "b", "supervisor"]
    assert tails(choose(files, ["a"]), 2) == [("a", "a2"), ("a", "a3")]
    with pytest.raises(UnknownTargetError, match="no log for c"):
        choose(files, ["c"])


def test_follow_prints_appended_lines_once(tmp_path: Path) -> None:
    files = choose(log_files(_run_dir(tmp_path)), ["a", "b"])
    seen: list[tuple[str, str]] = []
    rounds = iter(range(4))

    def stop() -> bool:
        step = next(rounds, None)
        if step == 1:
            with files["a"].open("a") as handle:
                handle.write("a4\npartial")
        if step == 2:
            with files["a"].open("a") as handle:
                handle.write(" line\n")
            fresh = files["b"].with_suffix(".new")  # another file took its place: from its start
            fresh.write_text("new run\n")
            fresh.replace(files["b"])
        return step is None

    follow(files, lambda name, line: seen.append((name, line)), stop=stop, interval=0)
    assert seen == [("a", "a4"), ("a", "partial line"), ("b", "new run")]
