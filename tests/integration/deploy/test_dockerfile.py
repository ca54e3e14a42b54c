"""The Dockerfile: hadolint-clean, copies what exists, pins the runtime closure, runs as a
non-root user with a health check that really checks."""

from __future__ import annotations

import http.server
import importlib.util
import json
import re
import subprocess
import sys
import threading
import tomllib
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.integration.deploy.conftest import ROOT, run, tool

DOCKERFILE = ROOT / "Dockerfile"
HEALTHCHECK_SCRIPT = ROOT / "deploy" / "docker" / "healthcheck.py"
LOCK_FILE = ROOT / "deploy" / "docker" / "requirements.txt"


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with line continuations joined and comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text(encoding="utf-8"))
    out = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            keyword, _, rest = stripped.partition(" ")
            out.append((keyword.upper(), rest.strip()))
    return out


def stages() -> list[list[tuple[str, str]]]:
    out: list[list[tuple[str, str]]] = []
    for keyword, rest in instructions():
        if keyword == "FROM":
            out.append([])
        if out:
            out[-1].append((keyword, rest))
    return out


def load_lock_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "zonegate_image_lock", LOCK_FILE.parent / "lock.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_hadolint_reports_nothing() -> None:
    result = run([tool("hadolint"), "--format", "json", "--no-color", str(DOCKERFILE)])
    findings = json.loads(result.stdout or "[]")
    assert findings == [], "\n".join(f"{f['line']}: {f['code']} {f['message']}" for f in findings)
    assert result.returncode == 0
    assert not (ROOT / ".hadolint.yaml").exists(), "no rule is switched off"


def test_copied_files_exist_and_reach_the_build_context() -> None:
    ignore = (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    included = {line[1:].rstrip("/") for line in ignore if line.startswith("!")}
    assert "*" in ignore, ".dockerignore starts from nothing"
    for keyword, rest in instructions():
        if keyword != "COPY" or "--from=" in rest:
            continue
        *sources, _destination = rest.split()
        for source in sources:
            assert (ROOT / source).exists(), f"COPY {source}: missing from the repository"
            parents = {str(p) for p in Path(source).parents} | {source}
            assert parents & included, f"COPY {source}: excluded by .dockerignore"


def test_multi_stage_non_root_with_healthcheck_and_entrypoint() -> None:
    build, runtime = stages()
    base = next(rest for k, rest in instructions() if k == "ARG" and rest.startswith("PYTHON"))
    assert re.fullmatch(r"PYTHON_IMAGE=python:3\.\d+\.\d+-slim-\w+", base), "pin the base patch"
    assert runtime[0][1] == "${PYTHON_IMAGE} AS runtime"
    runtime_keywords = dict(runtime)
    user = runtime_keywords["USER"]
    assert re.fullmatch(r"[1-9]\d*:[1-9]\d*", user), "numeric non-root user"
    assert json.loads(runtime_keywords["ENTRYPOINT"]) == ["zonegate"]
    healthcheck = runtime_keywords["HEALTHCHECK"]
    assert "CMD" in healthcheck and "zonegate-healthcheck" in healthcheck
    copies_from_build = [r for k, r in runtime if k == "COPY" and r.startswith("--from=build")]
    assert copies_from_build == ["--from=build /opt/zonegate /opt/zonegate"]
    assert not any(k == "RUN" and "pip install" in r for k, r in runtime), "no installs at runtime"
    assert any(k == "RUN" and "requirements.txt" in r for k, r in build)


def test_the_image_pins_exactly_the_tested_runtime_closure() -> None:
    lock = load_lock_module()
    expected = lock.render(lock.runtime_pins())
    assert LOCK_FILE.read_text(encoding="utf-8") == expected, (
        "deploy/docker/requirements.txt is stale: run "
        "`.venv/bin/python deploy/docker/lock.py > deploy/docker/requirements.txt`"
    )
    pins = {}
    for line in expected.splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            pins[name] = version
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    for text in pyproject["project"]["dependencies"]:
        requirement = Requirement(text)
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{name} is not pinned for the image"
        assert requirement.specifier.contains(pins[name], prereleases=True), (name, pins[name])
    dev_only = {"pytest", "mypy", "ruff", "hypothesis", "locust"}
    assert not dev_only & set(pins), "only runtime dependencies go into the image"


class _AdminStub(http.server.BaseHTTPRequestHandler):
    status = 200
    seen_authorization: list[str | None] = []

    def do_GET(self) -> None:
        type(self).seen_authorization.append(self.headers.get("Authorization"))
        body = b'{"status": "ok"}'
        self.send_response(type(self).status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture
def admin_stub() -> Iterator[tuple[str, type[_AdminStub]]]:
    handler = type("Handler", (_AdminStub,), {"status": 200, "seen_authorization": []})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/readyz", handler
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def healthcheck(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(HEALTHCHECK_SCRIPT)],
        env={"PATH": "/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_healthcheck_passes_on_2xx_and_sends_the_admin_token(
    admin_stub: tuple[str, type[_AdminStub]], tmp_path: Path
) -> None:
    url, handler = admin_stub
    token_file = tmp_path / "token"
    token_file.write_text("s3cret\n", encoding="utf-8")
    result = healthcheck(
        {"ZONEGATE_HEALTHCHECK_URL": url, "ZONEGATE_ADMIN_TOKEN_FILE": str(token_file)}
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert handler.seen_authorization == ["Bearer s3cret"]


def test_healthcheck_fails_on_503_and_on_refused(
    admin_stub: tuple[str, type[_AdminStub]],
) -> None:
    url, handler = admin_stub
    handler.status = 503
    result = healthcheck({"ZONEGATE_HEALTHCHECK_URL": url})
    assert result.returncode == 1 and "HTTP 503" in result.stdout
    assert handler.seen_authorization == [None]
    closed = url.rsplit(":", 1)[0] + ":1/healthz"
    result = healthcheck({"ZONEGATE_HEALTHCHECK_URL": closed})
    assert result.returncode == 1 and result.stdout.strip()
