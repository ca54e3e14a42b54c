"""The root of zonegate's errors.

Every package has one small root that subclasses :class:`ZonegateError`;
errors that end up in an HTTP answer carry a status and a stable code that
clients and drills can match on (``rate_limited``, ``upstream_unavailable``).
"""

from __future__ import annotations


class ZonegateError(Exception):
    """Root of all zonegate errors."""

    status: int = 500
    code: str = "internal_error"

    def __init__(self, message: str = "", *, status: int | None = None, code: str | None = None):
        super().__init__(message or self.code)
        if status is not None:
            self.status = status
        if code is not None:
            self.code = code

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else self.code


class ConfigError(ZonegateError):
    """A configuration that failed validation; ``problems`` lists each one with its path."""

    status = 400
    code = "invalid_config"

    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems
