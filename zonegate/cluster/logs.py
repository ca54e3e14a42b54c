"""Reading the cluster's log files (``zonegate logs``): tails, and following them live."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path

from zonegate.cluster.errors import UnknownTargetError
from zonegate.cluster.process import log_tail

SUPERVISOR = "supervisor"


def log_files(run_dir: Path) -> dict[str, Path]:
    """Every log of the run dir by process name (the supervisor's included, when detached)."""
    files = {p.stem: p for p in sorted((run_dir / "logs").glob("*.log"))}
    supervisor = run_dir / "supervisor.log"
    if supervisor.exists():
        files[SUPERVISOR] = supervisor
    return files


def choose(files: dict[str, Path], names: Sequence[str]) -> dict[str, Path]:
    if not names:
        return files
    missing = [n for n in names if n not in files]
    if missing:
        raise UnknownTargetError(
            f"no log for {', '.join(missing)}; logs: {', '.join(files) or 'none'}"
        )
    return {n: files[n] for n in names}


def tails(files: dict[str, Path], lines: int) -> list[tuple[str, str]]:
    return [
        (name, line) for name, path in files.items() for line in log_tail(path, lines).splitlines()
    ]


def follow(
    files: dict[str, Path],
    write: Callable[[str, str], None],
    *,
    stop: Callable[[], bool] = lambda: False,
    interval: float = 0.2,
) -> None:
    """Print lines as they are appended (from the current end), until ``stop()``."""
    offsets = {name: (path.stat().st_size if path.exists() else 0) for name, path in files.items()}
    inodes = {name: (path.stat().st_ino if path.exists() else 0) for name, path in files.items()}
    partial = dict.fromkeys(files, "")
    while not stop():
        for name, path in files.items():
            try:
                info = path.stat()
            except OSError:
                continue
            size = info.st_size
            if size < offsets[name] or info.st_ino != inodes[name]:
                offsets[name] = 0  # truncated or replaced: a new run
                inodes[name] = info.st_ino
                partial[name] = ""
            if size == offsets[name]:
                continue
            with path.open("rb") as handle:
                handle.seek(offsets[name])
                chunk = handle.read(size - offsets[name])
            offsets[name] = size
            text = partial[name] + chunk.decode("utf-8", "replace")
            *complete, partial[name] = text.split("\n")
            for line in complete:
                write(name, line)
        time.sleep(interval)
