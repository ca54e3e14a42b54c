"""Local Prometheus and Alertmanager servers (the Debian binaries) in a temporary directory,
for tests and local clusters. Each is stopped by its own PID only."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import aiohttp
import yaml

from zonegate.testing.ports import free_port


class LocalServer:
    """A server binary on a free loopback port in ``workdir``, ready on ``/-/ready``."""

    name = "server"

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def wait_ready(self, timeout: float = 30.0) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        async with aiohttp.ClientSession() as session:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    log_text = (self.workdir / f"{self.name}.log").read_text()
                    raise RuntimeError(f"{self.name} exited: {log_text[-2000:]}")
                try:
                    async with session.get(f"{self.url}/-/ready") as resp:
                        if resp.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.1)
        raise TimeoutError(f"{self.name} did not become ready")

    def stop(self) -> None:
        """Stop the process this object started (by its PID only)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class Prometheus(LocalServer):
    """A real Prometheus server (Debian package) in a temporary directory."""

    name = "prometheus"

    async def start(self, targets: list[str], rules: str, interval: str = "1s") -> None:
        """Start scraping ``targets`` (host:port) with ``rules``; return once ready."""
        self.launch(targets, rules, interval)
        await self.wait_ready()

    def launch(self, targets: list[str], rules: str, interval: str = "1s") -> None:
        binary = shutil.which("prometheus")
        if binary is None:
            raise FileNotFoundError("prometheus is missing: apt-get install prometheus")
        (self.workdir / "rules.yml").write_text(rules)
        config = {
            "global": {"scrape_interval": interval, "evaluation_interval": interval},
            "rule_files": ["rules.yml"],
            "scrape_configs": [
                {
                    "job_name": "zonegate",
                    "metrics_path": "/metrics",
                    "static_configs": [{"targets": targets}],
                }
            ],
        }
        (self.workdir / "prometheus.yml").write_text(yaml.safe_dump(config))
        log = (self.workdir / "prometheus.log").open("wb")
        self.proc = subprocess.Popen(
            [
                binary,
                f"--config.file={self.workdir / 'prometheus.yml'}",
                f"--storage.tsdb.path={self.workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--log.level=warn",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=self.workdir,
        )

    async def query(self, expr: str) -> list[dict[str, Any]]:
        async with aiohttp.ClientSession() as session:
            params = {"query": expr}
            async with session.get(f"{self.url}/api/v1/query", params=params) as resp:
                body = await resp.json()
        if body.get("status") != "success":
            raise RuntimeError(f"prometheus refused {expr!r}: {body}")
        result: list[dict[str, Any]] = body["data"]["result"]
        return result


class Alertmanager(LocalServer):
    """A real Alertmanager (Debian ``prometheus-alertmanager``), clustering off, loopback only."""

    name = "alertmanager"

    def launch(self) -> None:
        binary = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
        if binary is None:
            raise FileNotFoundError(
                "alertmanager is missing: apt-get install prometheus-alertmanager"
            )
        config = {"route": {"receiver": "null"}, "receivers": [{"name": "null"}]}
        (self.workdir / "alertmanager.yml").write_text(yaml.safe_dump(config))
        log = (self.workdir / "alertmanager.log").open("wb")
        self.proc = subprocess.Popen(
            [
                binary,
                f"--config.file={self.workdir / 'alertmanager.yml'}",
                f"--storage.path={self.workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--cluster.listen-address=",
                "--log.level=warn",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=self.workdir,
        )

    async def start(self) -> None:
        self.launch()
        await self.wait_ready()

    async def alerts(self) -> list[dict[str, Any]]:
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{self.url}/api/v2/alerts") as resp:
                body: list[dict[str, Any]] = await resp.json()
                return body
