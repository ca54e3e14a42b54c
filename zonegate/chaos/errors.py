"""Errors of the chaos harness (experiments, actions, probes, load, reports)."""

from __future__ import annotations

from zonegate.errors import ZonegateError


class ChaosError(ZonegateError):
    """Root of the chaos harness's errors."""

    status = 500
    code = "chaos_error"


class ExperimentError(ChaosError):
    """An experiment file that failed validation; ``problems`` name the step and field."""

    status = 400
    code = "invalid_experiment"

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


class UnknownDrillError(ChaosError):
    status = 404
    code = "unknown_drill"


class TargetError(ChaosError):
    """The drill's target (cluster, GLB, etcd, fault proxy) is missing or unusable."""

    status = 409
    code = "drill_target_unavailable"


class ActionFailed(ChaosError):
    """An action could not be carried out."""

    status = 502
    code = "action_failed"


class LoadError(ChaosError):
    """The load generator (locust) could not start or died."""

    status = 500
    code = "load_failed"


class ReportError(ChaosError):
    """A drill report that cannot be read (compare) or written."""

    status = 400
    code = "invalid_report"
