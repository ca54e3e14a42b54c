"""The supervisor process: start the cluster, serve the control API, stop on a signal.

Used by foreground ``zonegate up`` (in the CLI's own process) and by the
daemon that ``zonegate up --detach`` leaves running.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import signal
import traceback
from collections.abc import Callable
from pathlib import Path

import psutil
from aiohttp import web

from zonegate.cluster import events as ev
from zonegate.cluster.control_server import broadcast, control_app, start_control
from zonegate.cluster.errors import AlreadyRunningError, ClusterError
from zonegate.cluster.plan import COOKIE_KEY_FILE
from zonegate.cluster.spec import ClusterFile
from zonegate.cluster.state import ClusterState, read_state, remove_state
from zonegate.cluster.supervisor import Supervisor

log = logging.getLogger("zonegate.cluster")
CONTROL_HOST = "127.0.0.1"


def clean_stale(run_dir: Path) -> list[int]:
    """Refuse if a cluster runs from ``run_dir``; else kill what a dead supervisor left.

    Returns the PIDs killed (processes recorded in a stale state file that still
    run the same command line).
    """
    state = read_state(run_dir)
    if state is None:
        return []
    if state.supervisor_alive():
        raise AlreadyRunningError(
            f"a zonegate cluster is already running from {run_dir} "
            f"(supervisor PID {state.supervisor_pid}); stop it with `zonegate down`"
        )
    killed = kill_recorded(state)
    shutil.rmtree(run_dir / "etcd", ignore_errors=True)
    (run_dir / COOKIE_KEY_FILE).unlink(missing_ok=True)
    remove_state(run_dir)
    return killed


def preflight(file: ClusterFile, run_dir: Path) -> None:
    """Checks worth failing on before anything starts: a cluster already running from
    ``run_dir`` (stale state is cleaned up), a missing etcd binary."""
    clean_stale(run_dir)
    if file.local.etcd.enabled:
        from zonegate.coordinator.errors import EtcdBinaryNotFoundError
        from zonegate.coordinator.etcd_server import find_etcd_binary

        try:
            find_etcd_binary()
        except EtcdBinaryNotFoundError as exc:
            raise ClusterError(f"cannot start etcd: {exc.message}", code="etcd_missing") from None


def kill_recorded(state: ClusterState) -> list[int]:
    """SIGKILL the recorded processes that still exist and were started by this cluster."""
    killed = []
    for info in state.processes:
        if info.pid is None:
            continue
        try:
            proc = psutil.Process(info.pid)
            if info.started_at is not None and proc.create_time() > info.started_at + 5:
                continue  # the PID was reused by something else
            proc.kill()
            killed.append(info.pid)
        except psutil.Error:
            continue
    return killed


async def run_supervisor(
    file: ClusterFile,
    run_dir: Path,
    emit: ev.Emit,
    on_ready: Callable[[ClusterState], None] | None = None,
) -> int:
    """Bring the cluster up and keep it until SIGINT/SIGTERM or ``POST /down``; 0 if it ran."""
    try:
        clean_stale(run_dir)
    except ClusterError as exc:
        emit(ev.Event(ev.FAILED, message=exc.message, data={"code": exc.code}))
        return 1
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    runner: web.AppRunner | None = None
    app: web.Application | None = None

    def fan_out(event: ev.Event) -> None:
        emit(event)
        if app is not None:
            broadcast(app, event)

    sup = Supervisor(file, run_dir, emit=fan_out)
    start_task: asyncio.Task[None] | None = None

    def request_stop() -> None:
        if stop.is_set():
            sup.force = True  # a second Ctrl-C: no more waiting for drains
        stop.set()
        if start_task is not None and not start_task.done():
            start_task.cancel()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, request_stop)
    code = 0
    try:
        async with sup:
            try:
                sup.prepare()
                app = control_app(sup, request_stop)
                runner, sup.control_url = await start_control(app, CONTROL_HOST)
                start_task = asyncio.create_task(sup.start(), name="cluster-start")
                await start_task
            except asyncio.CancelledError:
                if not stop.is_set():
                    raise
                fan_out(ev.Event(ev.FAILED, message="start interrupted; everything was stopped"))
                return 130
            except ClusterError as exc:
                fan_out(ev.Event(ev.FAILED, message=exc.message, data={"code": exc.code}))
                return 1
            state = sup.snapshot()
            fan_out(
                ev.Event(ev.READY, message=f"{sup.ready_seconds:.1f}", data={"pid": os.getpid()})
            )
            if on_ready is not None:
                on_ready(state)
            await stop.wait()
    except Exception as exc:  # a bug: say so, but never leave processes behind
        traceback.print_exc()
        emit(ev.Event(ev.FAILED, message=f"internal error: {exc!r} (see the supervisor log)"))
        code = 1
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        if runner is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(runner.cleanup(), 2.0)
    return code
