"""``zonegate up --detach``: the supervisor as a background process, its progress relayed.

The launcher starts ``zonegate up --supervise-fd N`` in its own session (logs to
``<run dir>/supervisor.log``) and reads progress events from a pipe until the
cluster is ready (return 0) or the start failed and was rolled back (1).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

from zonegate.cluster import events as ev

SUPERVISOR_LOG = "supervisor.log"


def launch(
    run_dir: Path, cluster_file: str | None, emit: ev.Emit
) -> tuple[int, subprocess.Popen[bytes]]:
    """Start the supervisor daemon and relay its events until ready or failed."""
    run_dir.mkdir(parents=True, exist_ok=True)
    read_fd, write_fd = os.pipe()
    command = [
        sys.executable,
        "-m",
        "zonegate.cluster.launch",
        "up",
        "--run-dir",
        str(run_dir),
        "--supervise-fd",
        str(write_fd),
    ]
    if cluster_file is not None:
        command += ["-c", cluster_file]
    with (run_dir / SUPERVISOR_LOG).open("ab") as log:
        daemon = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            pass_fds=(write_fd,),
            start_new_session=True,
        )
    os.close(write_fd)
    outcome: str | None = None
    try:
        with os.fdopen(read_fd, "rb") as events:
            for line in events:
                try:
                    event = ev.Event.from_line(line)
                except ValueError:
                    continue
                emit(event)
                if event.type in (ev.READY, ev.FAILED):
                    outcome = event.type
                if outcome == ev.READY:
                    break
    except KeyboardInterrupt:
        with contextlib.suppress(ProcessLookupError):
            daemon.send_signal(signal.SIGTERM)
        daemon.wait()
        raise
    if outcome == ev.READY:
        return 0, daemon
    daemon.wait()  # failed: the daemon has rolled back and exits
    if outcome is None:
        emit(
            ev.Event(
                ev.FAILED,
                message=f"the supervisor exited with code {daemon.returncode} before the "
                f"cluster was ready; see {run_dir / SUPERVISOR_LOG}",
            )
        )
    return 1, daemon


class PipeEmitter:
    """The daemon's side: events go to the launcher's pipe (until ready) and to its log."""

    def __init__(self, fd: int) -> None:
        self.fd: int | None = fd

    def __call__(self, event: ev.Event) -> None:
        line = event.to_line()
        sys.stdout.write(line.decode())
        sys.stdout.flush()
        if self.fd is None:
            return
        try:
            os.write(self.fd, line)
        except OSError:  # the launcher is gone (Ctrl-C): keep going, log only
            self.close()
            return
        if event.type in (ev.READY, ev.FAILED):
            self.close()

    def close(self) -> None:
        if self.fd is not None:
            with contextlib.suppress(OSError):
                os.close(self.fd)
            self.fd = None
