"""Proxy throughput and added latency: zonegate vs nginx, measured in the same run.

nginx serves a 64-byte reply as the backend (one worker, pinned to core 0 with
wrk). Rows: the backend directly, nginx as a reverse proxy (one worker), and
zonegate with a plain route (one worker process), each proxy pinned to core 1.
The observability row adds a JSON access log to a file and OpenTelemetry
tracing at 1% sampling exported over OTLP/HTTP (to an nginx sink); metrics are
always on. The TLS rows terminate TLS 1.2+ (nginx and zonegate, same
certificate). All proxies run for the whole benchmark and it measures in
rounds, every row once per round, so a slow spell of a shared machine hits all
rows alike. Numbers are medians over ``--runs`` rounds; ratios are medians of
the ratios within each round, against nginx as a proxy (TLS rows: against
nginx terminating TLS). ``-c1`` rows give the latency one hop adds.

    .venv/bin/python bench/proxy.py [--runs 3] [--duration 5] [--workers N] [--rows ...]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psutil
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from zonegate.node.compiled import describe
from zonegate.node.policy.api_keys import generate_api_key, hash_api_key
from zonegate.testing.ports import free_port, wait_port

console = Console(width=int(os.environ.get("COLUMNS", "140")))

NGINX_BACKEND = """
worker_processes 1;
daemon off;
pid {dir}/backend.pid;
error_log {dir}/backend-error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  keepalive_requests 1000000;
  server {{
    listen 127.0.0.1:{port} reuseport backlog=4096;
    location / {{ default_type text/plain; return 200 "{body}"; }}
    location /json {{ default_type application/json; return 200 '{{"v":1}}'; }}
  }}
  server {{
    listen 127.0.0.1:{otlp_port};
    location / {{ return 200; }}
  }}
}}
"""

NGINX_PROXY_TLS = """
worker_processes 1;
daemon off;
pid {dir}/proxy-tls.pid;
error_log {dir}/proxy-tls-error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  keepalive_requests 1000000;
  upstream backend {{ server 127.0.0.1:{backend}; keepalive 128; }}
  server {{
    listen 127.0.0.1:{port} ssl backlog=4096;
    ssl_certificate {cert};
    ssl_certificate_key {key};
    ssl_protocols TLSv1.2 TLSv1.3;
    location / {{
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }}
  }}
}}
"""

NGINX_PROXY = """
worker_processes 1;
daemon off;
pid {dir}/proxy.pid;
error_log {dir}/proxy-error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  keepalive_requests 1000000;
  upstream backend {{ server 127.0.0.1:{backend}; keepalive 128; }}
  server {{
    listen 127.0.0.1:{port} backlog=4096;
    location / {{
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }}
  }}
}}
"""

ZONEGATE_CONFIG = """
version: 1
clusters:
  - name: backend
    endpoints: [{{address: "127.0.0.1:{backend}", zone: bench}}]
routes:
  - name: plain
    upstream: backend
"""

# API-key auth + a local rate limit that never limits + header transforms.
ZONEGATE_POLICY_CONFIG = """
version: 1
clusters:
  - name: backend
    endpoints: [{{address: "127.0.0.1:{backend}", zone: bench}}]
consumers:
  - name: bench
    groups: [bench]
    api_keys: [{{id: "{key_id}", hash: "{key_hash}"}}]
routes:
  - name: policies
    upstream: backend
    policies:
      auth: {{type: api_key}}
      rate_limits:
        - {{name: per-consumer, key: [consumer], algorithm: token_bucket,
           requests: 100000000, per_s: 1}}
      transform:
        request_headers: {{set: {{x-gateway-zone: "${{zone}}"}}}}
        response_headers: {{set: {{x-served-by: "${{node}}"}}, remove: [server]}}
"""

# One request fans out to three upstream calls (in parallel) and merges them.
ZONEGATE_COMPOSITION_CONFIG = """
version: 1
clusters:
  - name: backend
    endpoints: [{{address: "127.0.0.1:{backend}", zone: bench}}]
routes:
  - name: page
    aggregate:
      calls:
        - {{name: a, cluster: backend, path: /json}}
        - {{name: b, cluster: backend, path: /json}}
        - {{name: c, cluster: backend, path: /json}}
"""


@dataclass
class Row:
    name: str
    connections: int
    rps: list[float]
    p50_us: list[float]
    p99_us: list[float]
    cpu_us: list[float]

    @property
    def rps_median(self) -> float:
        return statistics.median(self.rps)

    @property
    def p50(self) -> float:
        return statistics.median(self.p50_us)

    @property
    def p99(self) -> float:
        return statistics.median(self.p99_us)

    @property
    def cpu(self) -> float:
        return statistics.median(self.cpu_us) if self.cpu_us else float("nan")


def _latency_us(text: str) -> float:
    text = text.strip()
    for unit, factor in (("us", 1.0), ("ms", 1000.0), ("s", 1_000_000.0)):
        if text.endswith(unit):
            return float(text[: -len(unit)]) * factor
    return float(text)


def run_wrk(
    port: int,
    connections: int,
    duration: float,
    scheme: str = "http",
    path: str = "/",
    headers: tuple[str, ...] = (),
) -> tuple[float, float, float, int]:
    """One wrk run on core 0; returns req/s, p50 us, p99 us, requests."""
    cmd = [
        "taskset",
        "-c",
        "0",
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{duration:g}s",
        "--latency",
        *[arg for header in headers for arg in ("-H", header)],
        f"{scheme}://127.0.0.1:{port}{path}",
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    rps = p50 = p99 = 0.0
    requests = 0
    for line in out.splitlines():
        parts = line.split()
        if line.startswith("Requests/sec:"):
            rps = float(parts[1])
        elif parts[:1] == ["50%"]:
            p50 = _latency_us(parts[1])
        elif parts[:1] == ["99%"]:
            p99 = _latency_us(parts[1])
        elif "requests in" in line:
            requests = int(parts[0])
    return rps, p50, p99, requests


def cpu_seconds(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            proc = psutil.Process(pid)
            for p in [proc, *proc.children(recursive=True)]:
                t = p.cpu_times()
                total += t.user + t.system
        except psutil.NoSuchProcess:
            pass
    return total


@contextmanager
def process(cmd: list[str], port: int, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_port(port, proc)
        yield proc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


@dataclass
class Target:
    """One row to measure: where it listens and how to ask."""

    row: Row
    port: int
    pids: list[int]
    scheme: str
    path: str
    headers: tuple[str, ...]


def measure_once(target: Target, duration: float) -> None:
    """One wrk run of ``target``, appended to its row."""
    row = target.row
    before = cpu_seconds(target.pids)
    rps, p50, p99, requests = run_wrk(
        target.port, row.connections, duration, target.scheme, target.path, target.headers
    )
    used = cpu_seconds(target.pids) - before
    row.rps.append(rps)
    row.p50_us.append(p50)
    row.p99_us.append(p99)
    if target.pids and requests:
        row.cpu_us.append(used / requests * 1e6)


ROW_KEYS = ("direct", "nginx", "plain", "obs", "policies", "nginx-tls", "tls", "compose")


def write_certificate(directory: Path) -> tuple[str, str]:
    """A certificate for 127.0.0.1 (trustme; wrk does not verify it)."""
    import trustme

    leaf = trustme.CA().issue_cert("127.0.0.1")
    cert, key = directory / "tls.crt", directory / "tls.key"
    leaf.cert_chain_pems[0].write_to_path(str(cert))
    leaf.private_key_pem.write_to_path(str(key))
    return str(cert), str(key)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=3, help="wrk runs per row (median)")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per wrk run")
    parser.add_argument("--workers", type=int, default=1, help="zonegate worker processes")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument(
        "--rows",
        default=",".join(ROW_KEYS),
        help=f"comma-separated subset of {','.join(ROW_KEYS)} (direct and nginx always run)",
    )
    args = parser.parse_args()
    wanted = set(args.rows.split(",")) | {"direct", "nginx"}
    for tool in ("nginx", "wrk", "taskset"):
        if shutil.which(tool) is None and not Path(f"/usr/sbin/{tool}").exists():
            console.print(f"[red]error:[/] {tool} is not installed (make bench installs it)")
            return 1
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    zonegate = str(Path(sys.executable).with_name("zonegate"))
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="zonegate-bench-") as tmp:
        d = Path(tmp)
        backend_port, proxy_port, zg_port = free_port(), free_port(), free_port()
        otlp_port, obs_port, tls_proxy_port, tls_port = (free_port() for _ in range(4))
        (d / "backend.conf").write_text(
            NGINX_BACKEND.format(dir=d, port=backend_port, body="x" * 64, otlp_port=otlp_port)
        )
        cert, key = write_certificate(d)
        (d / "proxy-tls.conf").write_text(
            NGINX_PROXY_TLS.format(
                dir=d, port=tls_proxy_port, backend=backend_port, cert=cert, key=key
            )
        )
        (d / "proxy.conf").write_text(
            NGINX_PROXY.format(dir=d, port=proxy_port, backend=backend_port)
        )
        (d / "zonegate.yaml").write_text(ZONEGATE_CONFIG.format(backend=backend_port))
        backend_cmd = [
            "taskset",
            "-c",
            "0",
            nginx,
            "-c",
            str(d / "backend.conf"),
            "-e",
            str(d / "be.log"),
        ]
        proxy_cmd = [
            "taskset",
            "-c",
            "1",
            nginx,
            "-c",
            str(d / "proxy.conf"),
            "-e",
            str(d / "px.log"),
        ]
        zg_cmd = [
            "taskset",
            "-c",
            "1",
            zonegate,
            "node",
            "-c",
            str(d / "zonegate.yaml"),
            "--listen",
            f"127.0.0.1:{zg_port}",
            "--id",
            "bench",
            "--zone",
            "bench",
            "--workers",
            str(args.workers),
            "--admin",
            "127.0.0.1:0",
        ]
        if args.workers > 1:
            zg_cmd = zg_cmd[3:]  # several workers: let them use every core

        def on_port(port: int, *extra: str) -> list[str]:
            cmd = [*zg_cmd, *extra]
            cmd[cmd.index("--listen") + 1] = f"127.0.0.1:{port}"
            return cmd

        obs_cmd = on_port(
            obs_port,
            "--access-log",
            str(d / "access.log"),
            "--otlp-endpoint",
            f"http://127.0.0.1:{otlp_port}",
            "--trace-sample-ratio",
            "0.01",
        )
        tls_cmd = on_port(tls_port, "--tls-cert", cert, "--tls-key", key)
        nginx_tls_cmd = [*proxy_cmd[:-4], "-c", str(d / "proxy-tls.conf"), "-e", str(d / "t.log")]
        workers = f"{args.workers} worker"
        key_id, api_key = generate_api_key()
        policy_port, compose_port = free_port(), free_port()
        (d / "policies.yaml").write_text(
            ZONEGATE_POLICY_CONFIG.format(
                backend=backend_port, key_id=key_id, key_hash=hash_api_key(api_key)
            )
        )
        (d / "compose.yaml").write_text(ZONEGATE_COMPOSITION_CONFIG.format(backend=backend_port))
        policy_cmd = [*obs_cmd, "-c", str(d / "policies.yaml")]
        policy_cmd[policy_cmd.index("--listen") + 1] = f"127.0.0.1:{policy_port}"
        compose_cmd = [*on_port(compose_port), "-c", str(d / "compose.yaml")]
        no: tuple[str, ...] = ()
        candidates: list[tuple[str, str, int, list[str] | None, str, str, tuple[str, ...]]] = [
            ("direct", "direct (nginx backend)", backend_port, None, "http", "/", no),
            ("nginx", "nginx proxy", proxy_port, proxy_cmd, "http", "/", no),
            ("plain", f"zonegate plain route ({workers})", zg_port, zg_cmd, "http", "/", no),
            ("obs", f"zonegate + access log + tracing 1% ({workers})", obs_port, obs_cmd,
             "http", "/", no),
            ("policies", f"zonegate + obs + key auth, rate limit, transforms ({workers})",
             policy_port, policy_cmd, "http", "/", (f"X-API-Key: {api_key}",)),
            ("nginx-tls", "nginx proxy (tls)", tls_proxy_port, nginx_tls_cmd, "https", "/", no),
            ("tls", f"zonegate plain route (tls, {workers})", tls_port, tls_cmd, "https", "/", no),
            ("compose", "direct /json (one of the 3 calls)", backend_port, None, "http",
             "/json", no),
            ("compose", f"zonegate aggregate of 3 calls ({workers})", compose_port, compose_cmd,
             "http", "/page", no),
        ]  # fmt: skip
        plan = [c[1:] for c in candidates if c[0] in wanted]
        with contextlib.ExitStack() as stack:
            stack.enter_context(process(backend_cmd, backend_port, d / "backend.out"))
            targets: list[Target] = []
            for name, port, cmd, scheme, path, headers in plan:
                pids = []
                if cmd is not None:  # every proxy runs the whole time (idle when not asked)
                    pids = [stack.enter_context(process(cmd, port, d / f"{port}.out")).pid]
                for c in (64, 1):
                    row = Row(name, c, [], [], [], [])
                    rows.append(row)
                    targets.append(Target(row, port, pids, scheme, path, headers))
            progress = stack.enter_context(Progress(console=console, transient=True))
            task = progress.add_task("measuring", total=len(targets) * (args.runs + 1))
            # Rounds: every row once per round, so a slow spell of this shared machine
            # hits all rows alike and the per-round ratios stay comparable.
            for round_ in range(args.runs + 1):
                for target in targets:
                    row = target.row
                    progress.update(
                        task, description=f"round {round_}: {row.name} -c{row.connections}"
                    )
                    if round_ == 0:  # warm-up: pools, caches, JITless but cold paths
                        run_wrk(
                            target.port,
                            row.connections,
                            1.0,
                            target.scheme,
                            target.path,
                            target.headers,
                        )
                    else:
                        measure_once(target, args.duration)
                    progress.advance(task)
    print_table(rows, args)
    if args.json:
        args.json.write_text(json.dumps([r.__dict__ for r in rows], indent=2))
    return 0


def print_table(rows: list[Row], args: argparse.Namespace) -> None:
    def nginx(connections: int, tls: bool) -> Row:
        name = "nginx proxy (tls)" if tls else "nginx proxy"
        found = [r for r in rows if r.name == name and r.connections == connections]
        if not found:  # no nginx TLS row measured: compare with plain nginx
            found = [r for r in rows if r.name == "nginx proxy" and r.connections == connections]
        return found[0]

    direct1 = next(r for r in rows if r.name.startswith("direct") and r.connections == 1)
    table = Table(
        title=f"bench/proxy.py: 64-byte reply, wrk -t1, median of {args.runs} x {args.duration:g}s"
        f"; zonegate hot path {describe()[1]}"
    )
    for col in (
        "row",
        "conns",
        "req/s",
        "x nginx",
        "p50 us",
        "p99 us",
        "added us/hop",
        "CPU us/req",
    ):
        table.add_column(col, justify="right" if col != "row" else "left")
    for r in rows:
        ratio = round_ratio(r, nginx(r.connections, "tls" in r.name))
        added = (
            r.p50 - direct1.p50 if r.connections == 1 and not r.name.startswith("direct") else None
        )
        table.add_row(
            r.name,
            str(r.connections),
            f"{r.rps_median:,.0f}",
            f"{ratio:.2f}",
            f"{r.p50:.0f}",
            f"{r.p99:.0f}",
            f"{added:.0f}" if added is not None else "",
            f"{r.cpu:.1f}" if r.cpu == r.cpu else "",
        )
    console.print(table)
    print_ratios(rows)


def round_ratio(ours: Row, theirs: Row) -> float:
    """Median over rounds of ours/theirs req/s (each ratio taken within one round)."""
    return statistics.median(a / b for a, b in zip(ours.rps, theirs.rps, strict=True))


def print_ratios(rows: list[Row]) -> None:
    """The targets of the issues, as medians of ratios measured within each round."""

    def find(prefix: str, connections: int) -> Row | None:
        return next(
            (r for r in rows if r.name.startswith(prefix) and r.connections == connections), None
        )

    nginx64, nginx1, direct1 = find("nginx proxy", 64), find("nginx proxy", 1), find("direct (", 1)
    checks = Table(title="targets (median of the per-round ratios)")
    for col in ("what", "measured", "target"):
        checks.add_column(col)
    plain64, plain1 = find("zonegate plain route (1", 64), find("zonegate plain route (1", 1)
    if nginx64 and plain64:
        checks.add_row(
            "plain route req/s vs nginx",
            f"{round_ratio(plain64, nginx64):.2f}x",
            ">= 0.6x",
        )
    if nginx1 and plain1 and direct1:
        ours, theirs = plain1.p50 - direct1.p50, nginx1.p50 - direct1.p50
        checks.add_row("added latency per hop (-c1) vs nginx", f"{ours / theirs:.2f}x", "<= 2x")
    obs64 = find("zonegate + access log", 64)
    if nginx64 and obs64:
        checks.add_row(
            "observability row req/s vs nginx",
            f"{round_ratio(obs64, nginx64):.2f}x",
            ">= 0.45x",
        )
    policies64 = find("zonegate + obs + key auth", 64)
    if obs64 and policies64:
        checks.add_row(
            "policies row vs observability row",
            f"{round_ratio(policies64, obs64):.2f}x",
            ">= 0.85x",
        )
    json1, compose1 = find("direct /json", 1), find("zonegate aggregate", 1)
    if json1 and compose1:
        checks.add_row(
            "3-call aggregate p50 vs sum of 3 direct calls",
            f"{compose1.p50:.0f} us vs {3 * json1.p50:.0f} us",
            "(reference)",
        )
    console.print(checks)


if __name__ == "__main__":
    sys.exit(main())
