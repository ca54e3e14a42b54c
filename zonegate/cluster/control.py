"""Operating a running local cluster from another process (the CLI, the chaos harness).

>>> cluster = ClusterControl()            # the cluster of ./.zonegate/run
>>> cluster.kill("us-east-1a")            # SIGKILL every process of the zone
['etcd-us-east-1a', 'catalog-us-east-1a', ...]
>>> cluster.start("us-east-1a")           # back, in dependency order, until healthy

Synchronous (urllib): call it through ``asyncio.to_thread`` from async code.
"""

from __future__ import annotations

import json
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from zonegate.cluster import events as ev
from zonegate.cluster.errors import ControlError, NotRunningError, error_from_answer
from zonegate.cluster.state import (
    ClusterState,
    ProcessInfo,
    default_run_dir,
    pid_alive,
    running_state,
)
from zonegate.cluster.targets import Member, resolve


class ClusterControl:
    """A handle on the cluster running from ``run_dir`` (default ``.zonegate/run``)."""

    def __init__(self, run_dir: str | Path | None = None, *, timeout: float = 90.0) -> None:
        self.run_dir = Path(run_dir) if run_dir is not None else default_run_dir()
        self.timeout = timeout
        self._state = running_state(self.run_dir)
        self.daemon: subprocess.Popen[bytes] | None = None  # set when this process started it

    # --- reading ------------------------------------------------------------------
    def state(self) -> ClusterState:
        """The supervisor's current view (every process, its PID, state and health)."""
        data = self._request("GET", "/state")
        self._state = ClusterState.from_dict(data)
        return self._state

    def processes(self) -> list[ProcessInfo]:
        return self.state().processes

    def process(self, name: str) -> ProcessInfo:
        return self.state().process(name)

    def names(self, target: str) -> list[str]:
        """The process names ``target`` designates (as ``zonegate ctl`` resolves them)."""
        members = [Member(p.name, p.kind, p.zone, p.service) for p in self._state.processes]
        return resolve(members, target)

    def entry_points(self) -> list[str]:
        """Where clients send traffic: the GLB replicas (or the nodes when there is no GLB)."""
        return list(self._state.entry_points)

    def url(self, name: str | None = None, *, admin: bool = False) -> str:
        """URL of a process (``glb-1``, ``eu-west-1a-2``...) or its admin listener; default:
        the entry point (the first GLB)."""
        if name is None and not admin:
            return self.entry_points()[0]
        info = self._state.process(self.names(name or "glb")[0])
        if admin:
            if not info.admin:
                raise ControlError(f"{info.name} has no admin listener")
            return f"http://{info.admin}"
        return info.url

    @property
    def etcd_endpoints(self) -> list[str]:
        return list(self._state.etcd_endpoints)

    # --- process operations ---------------------------------------------------------
    def kill(self, target: str) -> list[str]:
        """SIGKILL (a crash): a process, a zone (all of it), ``ZONE/nodes``, a kind..."""
        return self._ctl("kill", target)

    def pause(self, target: str) -> list[str]:
        """SIGSTOP: the process freezes, its sockets stay open (a hung server)."""
        return self._ctl("pause", target)

    def resume(self, target: str) -> list[str]:
        return self._ctl("resume", target)

    def stop(self, target: str) -> list[str]:
        """Graceful: SIGTERM (nodes drain), SIGKILL after the stop timeout."""
        return self._ctl("stop", target)

    def drain(self, target: str) -> list[str]:
        """Drain the gateway nodes (and GLBs) of ``target`` (a node, a zone...): they exit."""
        return self._ctl("drain", target)

    def start(self, target: str) -> list[str]:
        """Start stopped/killed processes again (dependency order) and wait until healthy."""
        return self._ctl("start", target)

    def restart(self, target: str) -> list[str]:
        return self._ctl("restart", target)

    # --- etcd -------------------------------------------------------------------------
    def etcd_leader(self) -> str:
        return str(self._request("POST", "/etcd", {"verb": "leader"})["leader"])

    def etcd_kill_leader(self) -> str:
        """SIGKILL the raft leader; returns its name (a new one is elected by the others)."""
        affected = self._request("POST", "/etcd", {"verb": "kill-leader"})["affected"]
        return str(affected[0])

    def etcd_stop(self, member: str | None = None) -> list[str]:
        """Stop one member (name or zone) or, with none, all of etcd (an etcd outage)."""
        return self._etcd("stop", member)

    def etcd_start(self, member: str | None = None) -> list[str]:
        return self._etcd("start", member)

    # --- demo backend faults ----------------------------------------------------------
    def set_fault(
        self,
        target: str,
        *,
        error_rate: float = 0.0,
        latency_ms: float = 0.0,
        hang: bool = False,
        error_status: int = 503,
        include_health: bool = False,
    ) -> list[str]:
        """``POST /_fault`` on every demo backend of ``target`` (``orders``, a zone...)."""
        fault = {
            "error_rate": error_rate,
            "latency_ms": latency_ms,
            "hang": hang,
            "error_status": error_status,
            "include_health": include_health,
        }
        return self._fault("POST", target, fault)

    def clear_fault(self, target: str) -> list[str]:
        return self._fault("DELETE", target, None)

    def _fault(self, method: str, target: str, body: dict[str, Any] | None) -> list[str]:
        backends = [
            p for p in self.processes() if p.name in self.names(target) and p.kind == "backend"
        ]
        if not backends:
            raise ControlError(f"{target!r} has no demo backend")
        for backend in backends:
            _http(method, f"{backend.url}/_fault", body, timeout=5.0)
        return [b.name for b in backends]

    # --- stopping -----------------------------------------------------------------------
    def down(self) -> list[ev.Event]:
        """Stop the cluster (reverse order, drained); returns the shutdown's events."""
        events = list(stream_down(self._state, self.timeout))
        if self.daemon is not None:
            self.daemon.wait()
        return events

    # --- plumbing -----------------------------------------------------------------------
    def _ctl(self, verb: str, target: str) -> list[str]:
        result = self._request("POST", "/ctl", {"verb": verb, "target": target})
        return [str(name) for name in result["affected"]]

    def _etcd(self, verb: str, member: str | None) -> list[str]:
        result = self._request("POST", "/etcd", {"verb": verb, "member": member})
        return [str(name) for name in result["affected"]]

    def _request(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        state = self._state
        return _http(
            method,
            state.control_url + path,
            body,
            timeout=self.timeout,
            token=state.token,
            supervisor_pid=state.supervisor_pid,
        )


def _http(
    method: str,
    url: str,
    body: dict[str, Any] | None,
    *,
    timeout: float,
    token: str = "",
    supervisor_pid: int | None = None,
) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        try:
            detail = json.loads(exc.read())
            message, code = str(detail["message"]), str(detail["error"])
        except (ValueError, KeyError, TypeError):
            message, code = f"HTTP {exc.code} from {url}", "control_failed"
        raise error_from_answer(code, message, exc.code) from None
    except (urllib.error.URLError, OSError) as exc:
        if supervisor_pid is not None and not pid_alive(supervisor_pid):
            raise NotRunningError("the cluster's supervisor is not running any more") from None
        raise ControlError(f"cannot reach {url}: {exc}") from None


def stream_down(state: ClusterState, timeout: float) -> Iterator[ev.Event]:
    """POST /down and yield its events; then wait for the supervisor process to exit."""
    request = urllib.request.Request(state.control_url + "/down", data=b"{}", method="POST")
    request.add_header("Authorization", f"Bearer {state.token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            for line in response:
                if line.strip():
                    yield ev.Event.from_line(line)
    except (urllib.error.URLError, OSError, ValueError):
        pass  # the supervisor went away mid-stream: wait for it below
    deadline = time.monotonic() + timeout
    while pid_alive(state.supervisor_pid):
        if time.monotonic() > deadline:
            raise ControlError(f"the supervisor (PID {state.supervisor_pid}) did not stop")
        time.sleep(0.05)
