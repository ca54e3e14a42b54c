"""Errors of the SLO engine; each carries an HTTP status and a stable code."""

from __future__ import annotations

from zonegate.errors import ZonegateError


class SLOError(ZonegateError):
    """Root of the SLO engine's errors."""

    status = 500
    code = "slo_error"


class SpecError(SLOError):
    """An SLO spec (native or OpenSLO) that cannot be used; ``problems`` lists each one."""

    status = 400
    code = "invalid_slo_spec"

    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems


class UnknownSLOError(SLOError):
    status = 404
    code = "slo_not_found"


class BadQueryError(SLOError):
    """A bad parameter in an API call (window, timestamps)."""

    status = 400
    code = "bad_slo_query"


class DataSourceError(SLOError):
    """The metrics source (store or Prometheus) could not answer."""

    status = 502
    code = "slo_data_source_unavailable"


class StoreError(SLOError):
    """The SQLite store cannot be opened or written."""

    status = 500
    code = "slo_store_failed"
