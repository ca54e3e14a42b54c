"""Errors of the local cluster supervisor and its control API."""

from __future__ import annotations

from zonegate.errors import ZonegateError


class ClusterError(ZonegateError):
    """Root of the local cluster's errors."""

    status = 500
    code = "cluster_error"


class ClusterSpecError(ClusterError):
    """The cluster file is not valid; ``problems`` lists each one with its path."""

    status = 400
    code = "invalid_cluster_file"

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


class PortConflictError(ClusterError):
    """A fixed address the cluster needs is already in use."""

    status = 409
    code = "port_in_use"


class ProcessStartError(ClusterError):
    """A process exited or did not become healthy while the cluster was starting."""

    status = 500
    code = "process_start_failed"


class AlreadyRunningError(ClusterError):
    """A cluster already runs from this run directory."""

    status = 409
    code = "already_running"


class NotRunningError(ClusterError):
    """No cluster runs from this run directory."""

    status = 404
    code = "not_running"


class UnknownTargetError(ClusterError):
    """A ``ctl`` target names no process, zone or kind."""

    status = 404
    code = "unknown_target"


class ControlError(ClusterError):
    """The supervisor refused or failed an operation."""

    status = 409
    code = "control_failed"


_BY_CODE: dict[str, type[ClusterError]] = {
    cls.code: cls
    for cls in (
        PortConflictError,
        ProcessStartError,
        AlreadyRunningError,
        NotRunningError,
        UnknownTargetError,
        ControlError,
    )
}


def error_from_answer(code: str, message: str, status: int) -> ClusterError:
    """The error a control API answer describes, as its own class (for ``except``)."""
    cls = _BY_CODE.get(code)
    if cls is None:
        return ClusterError(message, status=status, code=code)
    return cls(message)
