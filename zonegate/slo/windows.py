"""The alert window table: data (a YAML file shipped with the package), not code."""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Literal

import yaml
from pydantic import ConfigDict, Field, field_validator, model_validator

from zonegate.config.base import StrictModel
from zonegate.slo.durations import parse_duration

Severity = Literal["page", "ticket"]
SEVERITIES: tuple[Severity, ...] = ("page", "ticket")
DEFAULT_TABLE = "sre_workbook_windows.yaml"


def _duration(value: str) -> str:
    parse_duration(value)
    return value


class AlertWindow(StrictModel):
    """One row: fire ``severity`` when the burn rate over both windows exceeds ``burn_rate``."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    severity: Severity
    burn_rate: float = Field(gt=0, description="multiple of the sustainable error rate")
    long: str = Field(description="long window, e.g. 1h: the alert's meaning")
    short: str = Field(description="short window, e.g. 5m: makes the alert reset quickly")
    for_: str = Field(
        default="0s",
        alias="for",
        description="how long the condition must hold before firing (pending until then)",
    )

    _check = field_validator("long", "short")(_duration)

    @field_validator("for_")
    @classmethod
    def _check_for(cls, value: str) -> str:
        if value not in ("0", "0s"):
            parse_duration(value)
        return value

    @model_validator(mode="after")
    def _short_below_long(self) -> AlertWindow:
        if parse_duration(self.short) >= parse_duration(self.long):
            raise ValueError(
                f"short window {self.short} must be shorter than long window {self.long}"
            )
        return self

    @property
    def long_s(self) -> int:
        return parse_duration(self.long)

    @property
    def short_s(self) -> int:
        return parse_duration(self.short)

    @property
    def for_s(self) -> int:
        return 0 if self.for_ in ("0", "0s") else parse_duration(self.for_)


class WindowTable(StrictModel):
    windows: list[AlertWindow] = Field(min_length=1)


@cache
def default_windows() -> tuple[AlertWindow, ...]:
    """The SRE workbook table shipped in ``sre_workbook_windows.yaml``."""
    text = resources.files("zonegate.slo").joinpath(DEFAULT_TABLE).read_text(encoding="utf-8")
    return tuple(WindowTable.model_validate(yaml.safe_load(text)).windows)


def window_lengths(windows: tuple[AlertWindow, ...] | list[AlertWindow]) -> list[int]:
    """Every distinct window length in seconds, shortest first."""
    return sorted({w.long_s for w in windows} | {w.short_s for w in windows})
