"""Run the drill's load: locust, headless, as a child process (never imported here).

The child writes one JSON line per request (see :mod:`zonegate.chaos.records`);
:meth:`LoadProcess.poll` returns the lines added since the last call. The
child gets SIGKILL from the kernel if the drill dies, so no load outlives it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
from importlib import resources
from pathlib import Path

from zonegate.chaos.errors import LoadError
from zonegate.chaos.records import LogFollower, RequestRecord
from zonegate.chaos.spec.load import LoadSpec
from zonegate.conventions import HEADER_CLIENT_REGION

MAX_RUN_S = 3600  # a safety net: the drill stops the load itself


def locustfile_path() -> Path:
    return Path(str(resources.files("zonegate.chaos.load").joinpath("locustfile.py")))


def child_spec(spec: LoadSpec) -> dict[str, object]:
    """What the locust user reads from ``ZONEGATE_LOAD_SPEC``."""
    headers = dict(spec.headers)
    if spec.region:
        headers.setdefault(HEADER_CLIENT_REGION, spec.region)
    return {
        "requests": [
            {
                "name": r.label,
                "method": r.method,
                "path": r.path,
                "weight": r.weight,
                "headers": r.headers,
                "body": r.body,
            }
            for r in spec.requests
        ],
        "headers": headers,
        "rate_per_user": spec.rate_per_user,
        "timeout_s": spec.timeout_s,
        "cookies": spec.cookies,
    }


def locust_argv(spec: LoadSpec, host: str, run_s: int = MAX_RUN_S) -> list[str]:
    return [
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(locustfile_path()),
        "--headless",
        "--host",
        host.rstrip("/"),
        "--users",
        str(spec.users),
        "--spawn-rate",
        f"{spec.spawn_rate:g}",
        "--run-time",
        f"{run_s}s",
        "--stop-timeout",
        f"{max(1, int(spec.timeout_s) + 1)}",
        "--only-summary",
        "--exit-code-on-error",
        "0",
        "--loglevel",
        "WARNING",
    ]


class LoadProcess:
    """One locust run writing ``requests.jsonl`` (and ``locust.log``) into ``out_dir``."""

    def __init__(self, spec: LoadSpec, host: str, out_dir: Path) -> None:
        self.spec = spec
        self.host = host
        self.out_dir = out_dir
        self.log_path = out_dir / "requests.jsonl"
        self.stderr_path = out_dir / "locust.log"
        self.popen: subprocess.Popen[bytes] | None = None
        self._follower = LogFollower(self.log_path)
        self.records: list[RequestRecord] = []
        self.started_at: float | None = None

    @property
    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def start(self, started_at: float) -> None:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.log_path.write_text("")
        env = {
            **os.environ,
            "ZONEGATE_LOAD_SPEC": json.dumps(child_spec(self.spec)),
            "ZONEGATE_LOAD_LOG": str(self.log_path),
            "PYTHONUNBUFFERED": "1",
        }
        with self.stderr_path.open("wb") as log:
            try:
                guard = [sys.executable, "-m", "zonegate.chaos.load.launcher", str(os.getpid())]
                self.popen = subprocess.Popen(
                    [*guard, "--", *locust_argv(self.spec, self.host)],
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=log,
                    cwd=self.out_dir,
                    env=env,
                    start_new_session=True,
                )
            except OSError as exc:
                raise LoadError(f"cannot start locust: {exc.strerror or exc}") from None
        self.started_at = started_at

    def poll(self) -> list[RequestRecord]:
        """Records written since the last call (also kept in :attr:`records`)."""
        new = self._follower.poll()
        self.records.extend(new)
        return new

    def tail(self, lines: int = 15) -> str:
        try:
            text = self.stderr_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    async def wait_for_traffic(self, timeout_s: float, minimum: int = 1) -> None:
        """Until ``minimum`` records arrived; LoadError if locust died or stayed silent."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while len(self.records) < minimum:
            self.poll()
            if not self.alive:
                raise LoadError(f"locust exited before sending traffic:\n{self.tail()}")
            if loop.time() > deadline:
                raise LoadError(
                    f"no request recorded {timeout_s:g}s after starting locust "
                    f"(host {self.host}); its log:\n{self.tail()}"
                )
            await asyncio.sleep(0.05)

    async def stop(self, timeout_s: float = 10.0) -> None:
        """SIGTERM (locust stops its users, flushes the log), SIGKILL after ``timeout_s``."""
        popen = self.popen
        if popen is None:
            return
        if popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                popen.send_signal(signal.SIGTERM)
            loop = asyncio.get_running_loop()
            deadline = loop.time() + timeout_s
            while loop.time() < deadline:
                if popen.poll() is not None:
                    break
                await asyncio.sleep(0.05)
            if popen.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    popen.kill()
                popen.wait()
        self.poll()
