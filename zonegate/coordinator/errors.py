"""Errors of the coordinator: etcd unreachable, conflicts, lost leadership."""

from __future__ import annotations

from zonegate.errors import ZonegateError


class CoordinatorError(ZonegateError):
    """Root of the coordinator's errors."""

    status = 500
    code = "coordinator_error"


class EtcdUnavailableError(CoordinatorError):
    """No etcd endpoint answered in time (or the outcome of a write is unknown)."""

    status = 503
    code = "etcd_unavailable"


class EtcdRequestError(CoordinatorError):
    """etcd answered with an error that retrying elsewhere will not fix."""

    status = 502
    code = "etcd_error"


class LeaseNotFoundError(CoordinatorError):
    """The lease expired or was revoked."""

    status = 410
    code = "lease_not_found"


class WatchCompactedError(CoordinatorError):
    """A watch asked for history that etcd has already compacted."""

    status = 410
    code = "watch_compacted"

    def __init__(self, compact_revision: int) -> None:
        super().__init__(f"history compacted up to revision {compact_revision}")
        self.compact_revision = compact_revision


class ConfigConflictError(CoordinatorError):
    """The stored config changed since the revision the write was based on."""

    status = 409
    code = "config_conflict"


class RevisionNotFoundError(CoordinatorError):
    """A config revision that is not (or no longer) in the history."""

    status = 404
    code = "revision_not_found"


class NotLeaderError(CoordinatorError):
    """A leader-only write attempted by a process that does not hold leadership."""

    status = 409
    code = "not_leader"


class FencedError(NotLeaderError):
    """etcd refused a leader-only write: the fencing token is no longer current."""

    code = "fenced"


class EtcdBinaryNotFoundError(CoordinatorError):
    """No etcd server binary could be found."""

    code = "etcd_not_found"


class EtcdStartError(CoordinatorError):
    """An etcd member did not become healthy."""

    code = "etcd_start_failed"
